"""Forms of the Excel imports: the questionnaire upload, the visit-workbook upload, and the confirmation of
an import's preview (shared by both)."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectMultipleField
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from forms.base import PortalForm

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class QuestionnaireUploadForm(PortalForm):
    """The completed workbook; the importer checks the package and every cell, the form only that a file came."""

    file = FileField("Completed questionnaire workbook (.xlsx)",
                     validators=[FileRequired("Choose the completed questionnaire workbook (.xlsx) to upload.")],
                     description=f"The workbook downloaded from this page, filled in and saved as .xlsx; at most "
                                 f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB. Nothing is saved before you confirm "
                                 "the preview.")


class VisitWorkbookUploadForm(PortalForm):
    """The visit workbook filled on site; the importer checks the package and every cell."""

    file = FileField("Filled visit workbook (.xlsx)",
                     validators=[FileRequired("Choose the filled visit workbook (.xlsx) to upload.")],
                     description=f"The visit workbook downloaded from this page, with the “Verified on site” and "
                                 f"“Visit notes” columns filled in, saved as .xlsx; at most "
                                 f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB. Nothing is stored before you confirm "
                                 "the preview.")


class ConfirmImportForm(PortalForm):
    """Confirm a preview; conflicts are kept as stored online unless ticked here."""

    # Identifies the online state the preview showed; a save in between makes the confirmation stale.
    fingerprint = HiddenField(validators=[InputRequired("The preview is incomplete; upload the workbook again.")])
    overwrite = SelectMultipleField("Use the workbook's answer instead of the online one for", choices=[],
                                    widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
