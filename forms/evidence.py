"""Evidence forms: upload a document (to the library or to one criterion) and link an existing one."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, Optional

from forms.base import PortalForm
from portal.profiles.sniffing import ALLOWED_DESCRIPTION, MAX_EVIDENCE_BYTES

FILE_HINT = f"{ALLOWED_DESCRIPTION}; at most {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB."


class EvidenceUploadForm(PortalForm):
    """One document; the service sniffs the content, so the form only requires that one was sent."""

    file = FileField("Document", validators=[FileRequired("Choose a file to upload.")], description=FILE_HINT)
    title = StringField("Title (optional)", validators=[Optional(), Length(max=200)],
                        description="How reviewers should refer to it, e.g. 'Seal control procedure 2024'.")
    effective_date = DateField("Effective date (optional)", validators=[Optional()],
                               description="The date the document took effect, e.g. 2024-03-15.")
    # Where to return after an upload from a criterion; followed only when it is a local path.
    next = HiddenField()


class LinkEvidenceForm(PortalForm):
    """Link a document already in the company's library to a criterion."""

    evidence_id = IntegerField("Document from the library",
                               validators=[InputRequired("Choose a document from the library.")])
    next = HiddenField()
