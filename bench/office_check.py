"""Do the portal's workbooks open and print in a real office suite? (issue 6)

    python -m bench.office_check                     # needs LibreOffice Calc (Debian: libreoffice-calc)
    python -m bench.office_check --out /tmp/office   # keep the .xlsx, .pdf and first-page .png files

On a throwaway SQLite database with the demo data, the script writes the workbooks people print: the
CBP visit workbook of the demo's open validation (with a few on-site checks stored, so the pre-filled
"Verified on site" and "Visit notes" cells show), the partner's copy of the same profile, and the
offline questionnaire. Each is converted by ``soffice --headless --convert-to pdf`` (a private
LibreOffice profile, so a desktop session is not disturbed) and must give a PDF of at least one page.
With ``pdftoppm`` (Debian: poppler-utils) the first pages are also rendered as 50 dpi PNGs to look at.

Not part of ``make test``: LibreOffice is a large optional install. docs/PERFORMANCE.md says what the
render showed. The last line is ``office_check=ok <workbook>=<pages> ...`` (exit status 1 on a failure,
2 when LibreOffice is missing).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PNG_PAGES = 2


def build_workbooks(folder: Path) -> dict[str, Path]:
    """The demo data on a fresh database, then the three workbooks as files in ``folder``."""
    from sqlalchemy import select

    from portal import create_app
    from portal.config import TestConfig
    from portal.db import Base, db_session, dispose_engines, make_engine
    from portal.demo import load_demo_data
    from portal.exports import visit_services
    from portal.exports.profile_workbook import Audience, build_profile_workbook
    from portal.exports.queries import profile_workbook_data, questionnaire_data
    from portal.exports.questionnaire import build_questionnaire
    from portal.models import import_all_models
    from portal.profiles.services import profile_for_account
    from portal.validations.models import Validation
    from portal.validations.verification import CheckInput, Verified, save_checks
    from portal.validations.workflow import ValidationStatus

    url = f"sqlite:///{folder / 'office-check.db'}"

    class OfficeConfig(TestConfig):
        DATABASE_URL = url
        EVIDENCE_DIR = str(folder / "evidence")
        MAIL_OUTBOX_DIR = str(folder / "outbox")

    import_all_models()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(OfficeConfig)
    files: dict[str, Path] = {}
    with app.app_context():
        load_demo_data()
        db_session.commit()
        validation = db_session.scalar(select(Validation).where(Validation.status != ValidationStatus.CLOSED)
                                       .order_by(Validation.id))
        if validation is None:
            raise SystemExit("the demo data has no open validation")
        profile = profile_for_account(validation.account)
        save_checks(validation, [
            CheckInput("1.1", Verified.YES, "Security vision posted at the gate and in the break room; signed by "
                                            "the CEO on 2026-01-12."),
            CheckInput("1.2", Verified.PARTIAL, "=Risk assessment covers Laredo only; Monterrey yard pending."),
            CheckInput("2.1", Verified.NO, ""),
        ], by=validation.lead)
        db_session.commit()
        builds = {
            "visit-workbook": lambda out: build_profile_workbook(
                visit_services.workbook_data(validation, profile), Audience.CBP, out),
            "partner-workbook": lambda out: build_profile_workbook(
                profile_workbook_data(profile, Audience.PARTNER), Audience.PARTNER, out),
            "questionnaire": lambda out: build_questionnaire(
                questionnaire_data(profile, exported_by="office-check@cbp.example"), app.config["SECRET_KEY"], out),
        }
        for name, build in builds.items():
            buffer = io.BytesIO()
            build(buffer)
            files[name] = folder / f"{name}.xlsx"
            files[name].write_bytes(buffer.getvalue())
        db_session.remove()
    dispose_engines()
    return files


def convert(soffice: str, workbook: Path, out_dir: Path, profile_dir: Path) -> Path:
    """``workbook`` as a PDF through LibreOffice (headless, its own user profile)."""
    # Our own file names and a fixed argument list: no untrusted input reaches the command.
    result = subprocess.run(  # noqa: S603
        [soffice, f"-env:UserInstallation={profile_dir.as_uri()}", "--headless", "--norestore",
         "--convert-to", "pdf", "--outdir", str(out_dir), str(workbook)],
        capture_output=True, text=True, timeout=300, check=False)
    pdf = out_dir / f"{workbook.stem}.pdf"
    if result.returncode != 0 or not pdf.exists():
        raise RuntimeError(f"LibreOffice could not convert {workbook.name}: {result.stdout} {result.stderr}"[:2000])
    return pdf


def page_count(pdf: Path) -> int:
    """Pages of a PDF: ``pdfinfo`` when installed, else the page objects counted in the file."""
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo:
        result = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=False)  # noqa: S603
        found = re.search(r"^Pages:\s+(\d+)", result.stdout, re.MULTILINE)
        if found:
            return int(found.group(1))
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))


def render_pngs(pdf: Path, out_dir: Path, pages: int = PNG_PAGES) -> list[Path]:
    """The first pages as 50 dpi PNGs (``pdftoppm``), to look at; none when it is not installed."""
    pdftoppm = shutil.which("pdftoppm")
    if not pdftoppm:
        return []
    prefix = out_dir / pdf.stem
    subprocess.run([pdftoppm, "-png", "-r", "50", "-f", "1", "-l", str(pages), str(pdf), str(prefix)],  # noqa: S603
                   capture_output=True, check=False, timeout=120)
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the workbooks, PDFs and PNGs here")
    args = parser.parse_args(argv)
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        print("LibreOffice is not installed (Debian: apt-get install libreoffice-calc); nothing checked.")
        return 2
    with tempfile.TemporaryDirectory(prefix="office-check-") as scratch:
        work = Path(scratch)
        out_dir = args.out or work / "out"
        out_dir.mkdir(parents=True, exist_ok=True)
        results: dict[str, int] = {}
        failures: list[str] = []
        for name, workbook in build_workbooks(work).items():
            if args.out:
                shutil.copyfile(workbook, out_dir / workbook.name)
            try:
                pdf = convert(soffice, workbook, out_dir, work / "lo-profile")
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                failures.append(f"{name}: {error}")
                continue
            results[name] = page_count(pdf)
            pngs = render_pngs(pdf, out_dir) if args.out else []
            print(f"{name}: {pdf.stat().st_size / 1024:,.0f} KiB PDF, {results[name]} page(s)"
                  + (f"; {', '.join(p.name for p in pngs)}" if pngs else ""))
            if results[name] < 1:
                failures.append(f"{name}: the PDF has no page")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"office_check={'failed' if failures else 'ok'} " + " ".join(f"{k}={v}" for k, v in results.items()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
