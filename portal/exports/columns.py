"""Column layouts of every export, in one place so the builders, the importer and the tests agree.

Widths are in Excel character units. ``cbp_only`` columns are left out of the partner's copy. Columns
without a kind are "plain" (no style, the cheapest to write); short columns of sheets with tall rows
are "text" so they stay at the top of their row in print.
"""

from __future__ import annotations

from portal.exports.workbook import Column
from portal.profiles.workflow import ImplementationStatus

VERIFIED_CHOICES: tuple[str, ...] = ("Y", "N", "Partial")
STATUS_CHOICES: tuple[str, ...] = tuple(status.label for status in ImplementationStatus)

# -- the profile (validation visit) workbook ---------------------------------------------------------

CRITERIA = (
    Column("ID", 7, "text"),
    Column("Focus area", 16, "wrap"),
    Column("Category", 20, "wrap"),
    Column("Must/Should", 9, "text"),
    Column("Title", 26, "wrap"),
    Column("Requirement", 55, "wrap"),
    Column("Partner status", 15, "wrap"),
    Column("Narrative", 70, "wrap"),
    Column("Not-applicable justification", 28, "wrap"),
    Column("Evidence (name, SHA-256)", 42, "wrap"),
    Column("Action plans", 42, "wrap"),
    Column("Reviewer rating", 15, "wrap", cbp_only=True),
    Column("Reviewer comment", 36, "wrap", cbp_only=True),
    Column("Verified on site", 11, "input", choices=VERIFIED_CHOICES, cbp_only=True),
    Column("Visit notes", 45, "input_wrap", cbp_only=True),
)
# Positions (0-based) of the cells the visit-workbook import reads (CBP copy).
C_ID, C_VERIFIED, C_NOTES = 0, 13, 14

EVIDENCE = (
    Column("Criterion ID", 10),
    Column("Document", 40, "wrap"),
    Column("File name", 36, "wrap"),
    Column("Size (bytes)", 13),
    Column("SHA-256", 68),
)

FACILITIES = (
    Column("Kind", 22),
    Column("Name", 28, "wrap"),
    Column("Address", 40, "wrap"),
    Column("Address line 2", 24, "wrap"),
    Column("City", 18),
    Column("Region", 14),
    Column("Postal code", 12),
    Column("Country", 9),
    Column("Time zone", 20),
    Column("Visitable", 10),
)

BUSINESS_PARTNERS = (
    Column("Name", 32, "wrap"),
    Column("Role", 22),
    Column("Country", 9),
    Column("Identifiers", 28, "wrap"),
    Column("CTPAT / MRA program", 26),
    Column("Last screened", 13, "date"),
    Column("Risk", 12),
    Column("Notes", 40, "wrap"),
)

ACTION_PLANS = (
    Column("Criterion ID", 10, "text"),
    Column("Gap", 40, "wrap"),
    Column("Corrective action", 50, "wrap"),
    Column("Owner", 22, "wrap"),
    Column("Target date", 12, "date"),
    Column("Status", 16, "text"),
    Column("Overdue", 9, "text"),
    Column("Milestones", 45, "wrap"),
)

FINDINGS = (
    Column("Number", 9, "text"),
    Column("Criterion ID", 10, "text"),
    Column("Type", 18, "text"),
    Column("State", 14, "text"),
    Column("Finding", 50, "wrap"),
    Column("Due date", 12, "date"),
    Column("Partner response", 45, "wrap"),
)

# The foreign AEO program and certificate of a site covered under a Mutual Recognition Arrangement, so
# the visiting specialist has them on paper.
MRA_COLUMNS = (
    Column("MRA program", 30, "wrap"),
    Column("MRA certificate", 20, "text"),
    Column("Certificate expires", 12, "date"),
)

VISIT_PLAN = (
    Column("Site", 28, "wrap"),
    Column("Address", 40, "wrap"),
    Column("Starts (local)", 17, "datetime"),
    Column("Ends (local)", 17, "datetime"),
    Column("Time zone", 20),
    Column("Mode", 10),
    Column("Lead", 22),
    Column("Team", 36, "wrap"),
    *MRA_COLUMNS,
)

# -- the offline questionnaire -----------------------------------------------------------------------

QUESTIONNAIRE = (
    Column("Criterion ID", 10, "text"),
    Column("Category", 22, "wrap"),
    Column("Must/Should", 9, "text"),
    Column("Title", 28, "wrap"),
    Column("Requirement", 55, "wrap"),
    Column("Status", 22, "input", choices=STATUS_CHOICES),
    Column("Narrative", 80, "input_wrap"),
    Column("Not-applicable justification", 40, "input_wrap"),
)
# Positions (0-based) of the cells the importer reads.
Q_ID, Q_STATUS, Q_NARRATIVE, Q_JUSTIFICATION = 0, 5, 6, 7

# -- list exports --------------------------------------------------------------------------------------

QUEUE = (
    Column("Review ID", 10),
    Column("Company", 34, "wrap"),
    Column("DBA", 20, "wrap"),
    Column("Business type", 22),
    Column("Account number", 16),
    Column("Country", 9),
    Column("Version", 9),
    Column("Submitted (UTC)", 17, "datetime"),
    Column("Target date (UTC)", 14, "date"),
    Column("Days left", 10),
    Column("Overdue", 9),
    Column("Reviewer", 22),
    Column("Status", 16),
    Column("Recommendation", 18),
)

ACTION_PLAN_LIST = (
    Column("Plan ID", 9, "number"),
    Column("Criterion ID", 10, "text"),
    Column("Criterion", 30, "wrap"),
    Column("Gap", 40, "wrap"),
    Column("Corrective action", 50, "wrap"),
    Column("Owner", 22, "wrap"),
    Column("Target date", 12, "date"),
    Column("Status", 16, "text"),
    Column("Overdue", 9, "text"),
    Column("Milestones", 45, "wrap"),
    Column("Updated (UTC)", 17, "datetime"),
)

FINDING_LIST = (
    Column("Finding ID", 10),
    Column("Criterion ID", 10, "text"),
    Column("Criterion", 30, "wrap"),
    Column("Type", 18, "text"),
    Column("State", 14, "text"),
    Column("Finding", 50, "wrap"),
    Column("Due date", 12, "date"),
    Column("Partner response", 45, "wrap"),
    Column("CBP verdict", 30, "wrap"),
    Column("Recorded (UTC)", 17, "datetime"),
)

AUDIT_EVENTS = (
    Column("Event ID", 10),
    Column("When (UTC)", 17, "datetime"),
    Column("Actor", 30),
    Column("Company ID", 11),
    Column("Action", 26),
    Column("Object", 20),
    Column("Object ID", 10),
    Column("Summary", 70, "wrap"),
    Column("IP address", 16),
    Column("Request ID", 34),
)
