"""Evidence upload checks (pure): the type allowlist, content sniffing and safe display names.

The name a user gives a file is never trusted: its extension must be on the allowlist AND agree with
what the bytes are. Binary formats are recognised by their signature (the ``filetype`` package)
and then checked structurally, because a signature alone lets through an HTML page named ``.pdf``
or a plain zip (or a macro-enabled workbook) renamed ``.docx``/``.xlsx``. Nothing here touches the
database or the disk, so every rule is unit-tested on bytes built in memory (DESIGN.md §9).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import filetype

MAX_EVIDENCE_BYTES: Final = 20 * 1024 * 1024
MAX_NAME_CHARS: Final = 255

DOCX_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Kind -> the content type we store and serve. Text types name their charset, because we only
# accept UTF-8 and a browser must not guess another one.
CONTENT_TYPES: Final[dict[str, str]] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "docx": DOCX_TYPE,
    "xlsx": XLSX_TYPE,
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
EXTENSIONS: Final[dict[str, str]] = {
    ".pdf": "pdf", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".docx": "docx", ".xlsx": "xlsx",
    ".txt": "txt", ".csv": "csv",
}
KIND_LABELS: Final[dict[str, str]] = {
    "pdf": "PDF", "png": "PNG image", "jpeg": "JPEG image", "docx": "Word document (DOCX)",
    "xlsx": "Excel workbook (XLSX)", "txt": "text file (TXT)", "csv": "CSV file",
}
ALLOWED_DESCRIPTION: Final = "PDF, PNG, JPEG, DOCX, XLSX, TXT or CSV"
ACCEPT_ATTRIBUTE: Final = ",".join(EXTENSIONS)  # for <input type="file" accept="...">

# What `filetype` may call each kind. OOXML files are zips, and filetype only reports docx/xlsx
# when the parts happen to come early in the archive, so "zip" is acceptable for both: the
# structural check below decides.
_SIGNATURE_OK: Final[dict[str, frozenset[str]]] = {
    "pdf": frozenset({"pdf"}),
    "png": frozenset({"png"}),
    "jpeg": frozenset({"jpg"}),
    "docx": frozenset({"docx", "zip"}),
    "xlsx": frozenset({"xlsx", "zip"}),
}

# Zip limits for the structural check: we read only the directory and one small part, never
# decompress the documents themselves, but a hostile archive must not make us try.
_MAX_ZIP_MEMBERS: Final = 10_000
_MAX_CONTENT_TYPES_BYTES: Final = 1024 * 1024

# Windows device names: a download saved as "con.pdf" cannot be opened there.
_RESERVED_STEMS: Final = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)
# Bidirectional overrides and isolates can disguise "invoice\u202Efdp.exe" as "invoiceexe.pdf".
_BIDI_CONTROLS: Final = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_Check = Callable[[bytes, str], None]


class RejectedUpload(ValueError):
    """The upload is refused; ``message`` says why and what is allowed, for the file field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SniffResult:
    """What the content was found to be: the allowlist kind and the content type to serve it with."""

    kind: str
    content_type: str


def safe_display_name(filename: str | None) -> str:
    """A name fit to show and to offer as a download name: no directories, no control or
    bidirectional characters, no Windows device name, at most 255 characters (keeping the
    extension). Unicode letters are kept. Never used as a storage path.
    """
    name = unicodedata.normalize("NFC", filename or "")
    # Strip both kinds of directory separator: browsers on Windows may send "C:\\Users\\x\\a.pdf".
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    name = " ".join(name.split())  # collapse runs of whitespace
    # Leading dots hide files on Unix, trailing dots and spaces are dropped by Windows.
    name = name.strip(" .")
    if not name:
        return "document"
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if stem.split(".")[0].strip().lower() in _RESERVED_STEMS:
        name = "_" + name
    if len(name) > MAX_NAME_CHARS:
        suffix = f".{extension}" if dot and len(extension) <= 16 else ""
        name = name[: MAX_NAME_CHARS - len(suffix)].rstrip(" .") + suffix
    return name


def extension_kind(filename: str) -> str:
    """The allowlist kind of a (safe) file name's extension.

    :raise RejectedUpload: no extension, or one that is not allowed.
    """
    _, dot, extension = filename.rpartition(".")
    if not dot or not extension:
        raise RejectedUpload(f"The file name has no extension. Upload a {ALLOWED_DESCRIPTION} file.")
    kind = EXTENSIONS.get("." + extension.lower())
    if kind is None:
        raise RejectedUpload(f"Files of type .{extension[:20]} are not accepted. "
                             f"Upload a {ALLOWED_DESCRIPTION} file.")
    return kind


def sniff(data: bytes, filename: str) -> SniffResult:
    """Decide whether ``data`` named ``filename`` may be stored as evidence, and as what.

    :raise RejectedUpload: empty, over 20 MB, extension not allowed, or content that does not
        match the extension (with a message for the user).
    """
    if not data:
        raise RejectedUpload("The file is empty. Choose a file that has content.")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise RejectedUpload(f"The file is {len(data) / (1024 * 1024):.1f} MB; "
                             f"the limit is {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB.")
    kind = extension_kind(safe_display_name(filename))
    label = KIND_LABELS[kind]
    guessed = filetype.guess(data)
    guessed_ext = guessed.extension if guessed is not None else None
    if kind in ("txt", "csv"):
        if guessed_ext is not None:
            raise RejectedUpload(_mismatch(label, guessed_ext))
        _check_text(data, label)
    else:
        if guessed_ext not in _SIGNATURE_OK[kind]:
            raise RejectedUpload(_mismatch(label, guessed_ext))
        _STRUCTURE_CHECKS[kind](data, label)
    return SniffResult(kind=kind, content_type=CONTENT_TYPES[kind])


def _a(label: str) -> str:
    # Every label we use takes "an" exactly when it starts with a vowel letter ("an Excel workbook").
    return ("an " if label[0] in "AEIOU" else "a ") + label


def _mismatch(label: str, guessed_ext: str | None) -> str:
    what = f"a .{guessed_ext} file" if guessed_ext else "something else"
    return (f"The file is named as {_a(label)} but its content is {what}. "
            f"Upload a genuine {ALLOWED_DESCRIPTION} file whose extension matches its content.")


def _check_pdf(data: bytes, label: str) -> None:
    # filetype finds "%PDF" anywhere near the start; a PDF proper begins with the version header.
    if not data.startswith(b"%PDF-"):
        raise RejectedUpload(_mismatch(label, None))


def _check_png(data: bytes, label: str) -> None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise RejectedUpload(_mismatch(label, None))


def _check_jpeg(data: bytes, label: str) -> None:
    if not data.startswith(b"\xff\xd8\xff"):
        raise RejectedUpload(_mismatch(label, None))


def _check_text(data: bytes, label: str) -> None:
    # NUL never occurs in real text and is how binaries hide behind a .txt name.
    if b"\x00" in data:
        raise RejectedUpload(f"The {label} contains binary data (NUL bytes). "
                             "Upload plain text saved as UTF-8.")
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RejectedUpload(f"The {label} is not UTF-8 text. Save it as UTF-8 (in Excel: "
                             "'CSV UTF-8') and upload it again.") from None


def _ooxml_checker(kind: str, part_prefix: str, main_part: str) -> _Check:
    def check(data: bytes, label: str) -> None:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
                if len(infos) > _MAX_ZIP_MEMBERS:
                    raise RejectedUpload(f"The {label} holds too many parts to be a genuine document.")
                names = {info.filename for info in infos}
                lowered = {name.lower() for name in names}
                if "[Content_Types].xml" not in names or main_part not in names \
                        or not any(name.startswith(part_prefix) for name in names):
                    raise RejectedUpload(
                        f"The file is named as {_a(label)} but is not one (it is a plain zip archive or "
                        f"another kind of document). Upload a genuine {ALLOWED_DESCRIPTION} file.")
                # Macros are refused outright: reviewers open these files on CBP machines.
                if any(name.rsplit("/", 1)[-1] == "vbaproject.bin" for name in lowered):
                    raise _macro_error(label)
                content_types = archive.getinfo("[Content_Types].xml")
                if content_types.file_size > _MAX_CONTENT_TYPES_BYTES:
                    raise RejectedUpload(f"The {label} is malformed.")
                if b"macroenabled" in archive.read(content_types).lower():
                    raise _macro_error(label)
        except RejectedUpload:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, OSError, EOFError, RuntimeError,
                NotImplementedError, ValueError):
            # RuntimeError: encrypted member; NotImplementedError: unknown compression.
            raise RejectedUpload(f"The {label} is damaged or encrypted and cannot be read. "
                                 f"Upload a genuine {ALLOWED_DESCRIPTION} file.") from None

    check.__name__ = f"_check_{kind}"
    return check


def _macro_error(label: str) -> RejectedUpload:
    return RejectedUpload(f"The {label} contains macros, which are not accepted. Save it without macros "
                          "(as .docx or .xlsx, not .docm or .xlsm) and upload it again.")


_STRUCTURE_CHECKS: Final[dict[str, _Check]] = {
    "pdf": _check_pdf,
    "png": _check_png,
    "jpeg": _check_jpeg,
    "docx": _ooxml_checker("docx", "word/", "word/document.xml"),
    "xlsx": _ooxml_checker("xlsx", "xl/", "xl/workbook.xml"),
}
