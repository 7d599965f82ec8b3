"""Candidates imported from CSV / XLSX.

`candidates/{id}`: workspace_id, name, email, skills [lower-case], years_experience,
location, education, source, import_id, updated_at, sort_key (= id), and after a
segmentation run segment_id / segment_run_id. The id is a hash of the workspace and the
e-mail (or of the row's content when there is none), so importing the same file twice
updates rather than duplicates.

`candidate_imports/{id}`: the validation report of one upload, in the contact import's
shape (shared.email.contacts): total_rows, imported, rejected {reason: count},
report [{row, reason, value}] (first REPORT_LIMIT rows), report_truncated. The file is
read with the contact import's streamed CSV / XLSX reader.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from shared.email.contacts_file import read_rows
from shared.errors import ValidationError
from shared.jobs.store import Batch, page, sort_key
from shared.tenancy import new_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

CANDIDATES = "candidates"
IMPORTS = "candidate_imports"
# Up to REPORT_LIMIT rejected rows, read whole: not indexed (see infra/firestore.tf).
UNINDEXED_FIELDS = {IMPORTS: ("report",)}
REPORT_LIMIT = 1000  # rejected rows listed in the report; the counts are always exact
MAX_SKILLS = 30
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SPLIT = re.compile(r"[;,|/]")
# Column names people use for the same thing.
ALIASES = {
    "years_experience": ("years_experience", "years_of_experience", "experience_years",
                         "experience", "years", "yoe"),
    "skills": ("skills", "skill", "skillset", "competencies"),
    "location": ("location", "city", "place"),
    "education": ("education", "degree", "education_level"),
    "source": ("source", "channel", "origin"),
    "name": ("name", "full_name", "candidate"),
    "email": ("email", "e_mail", "email_address"),
}  # fmt: skip


class RowError(ValueError):
    """Why one row was rejected: a short reason (counted) and the offending value."""

    def __init__(self, reason: str, value: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value


def normalize_header(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _pick(row: dict[str, str], field: str) -> str:
    for alias in ALIASES[field]:
        if row.get(alias):
            return row[alias].strip()
    return ""


def parse_row(row: dict[str, str]) -> dict[str, Any]:
    """One candidate from one row (header -> cell); RowError says why not."""
    raw_years = _pick(row, "years_experience")
    if not raw_years:
        raise RowError("years of experience is empty")
    try:
        years = float(raw_years.replace(",", "."))
    except ValueError as exc:
        raise RowError("years of experience is not a number", raw_years) from exc
    if not 0 <= years <= 70:
        raise RowError("years of experience is outside 0-70", raw_years)
    skills = sorted({s.strip().lower() for s in _SPLIT.split(_pick(row, "skills")) if s.strip()})
    if not skills:
        raise RowError("skills is empty")
    if len(skills) > MAX_SKILLS:
        raise RowError(f"more than {MAX_SKILLS} skills")
    location = _pick(row, "location")
    if not location:
        raise RowError("location is empty")
    email = _pick(row, "email").lower()
    if email and not _EMAIL.match(email):
        raise RowError("invalid email address", email[:254])
    return {
        "name": _pick(row, "name")[:200] or None,
        "email": email or None,
        "skills": skills,
        "years_experience": years,
        "location": " ".join(location.split())[:120],
        "education": (" ".join(_pick(row, "education").lower().split()) or "unknown")[:80],
        "source": (" ".join(_pick(row, "source").lower().split()) or "unknown")[:80],
    }


def candidate_id(workspace_id: str, cand: dict[str, Any]) -> str:
    if cand.get("email"):
        basis = f"{workspace_id}|email|{cand['email']}"
    else:
        basis = "|".join(
            [workspace_id, "row", cand.get("name") or "", ",".join(cand["skills"]),
             str(cand["years_experience"]), cand["location"], cand["education"], cand["source"]]
        )  # fmt: skip
    return hashlib.sha256(basis.encode()).hexdigest()[:24]


def _rows(data: bytes, filename: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    rows = read_rows(data, filename)
    first = next(rows, None)
    if first is None:
        raise ValidationError("the file has no header row")
    headers = [normalize_header(h) for h in first[1]]
    if not any(h in headers for h in ALIASES["skills"]):
        raise ValidationError("missing column: skills", {"found": [h for h in headers if h]})
    out = []
    for number, cells in rows:
        if any(cells):
            out.append(
                (
                    number,
                    {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers) if h},
                )
            )
    return headers, out


def import_candidates(
    runtime: Runtime,
    workspace_id: str,
    data: bytes,
    filename: str,
    content_type: str | None = None,  # accepted for the API's sake; the name decides
) -> dict[str, Any]:
    """Validate every row, write the valid ones, return the report (also stored)."""
    _, rows = _rows(data, filename)
    now = runtime.clock.now()
    import_id = new_id()
    reasons: dict[str, int] = {}
    report: list[dict[str, Any]] = []
    valid: dict[str, dict[str, Any]] = {}

    def reject(number: int, reason: str, value: str = "") -> None:
        reasons[reason] = reasons.get(reason, 0) + 1
        if len(report) < REPORT_LIMIT:
            report.append({"row": number, "reason": reason, "value": value})

    for number, row in rows:
        try:
            cand = parse_row(row)
        except RowError as exc:
            reject(number, exc.reason, exc.value)
            continue
        cid = candidate_id(workspace_id, cand)
        if cid in valid:
            reject(number, "duplicate", cand.get("email") or "")
            continue
        valid[cid] = cand
    db = runtime.db
    batch = Batch(db)
    for cid, cand in valid.items():
        doc = {
            **cand,
            "workspace_id": workspace_id,
            "import_id": import_id,
            "updated_at": now,
            "sort_key": cid,
        }
        # merge keeps an earlier segmentation's segment_id on re-import.
        batch.set(db.collection(CANDIDATES).document(cid), doc, merge=True)
    batch.commit()
    summary = {
        "total_rows": len(rows),
        "imported": len(valid),
        "rejected": reasons,
        "report": report,
        "report_truncated": sum(reasons.values()) > len(report),
    }
    db.collection(IMPORTS).document(import_id).set(
        {**summary, "workspace_id": workspace_id, "filename": filename[:200],
         "created_at": now, "sort_key": sort_key(now, import_id)}
    )  # fmt: skip
    return {"import_id": import_id, "id": import_id, **summary}


def list_candidates(
    runtime: Runtime,
    workspace_id: str,
    *,
    segment_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    from shared.queries.jobs import CANDIDATES as LIST

    segment_id = segment_id or None
    return page(runtime.db, LIST, workspace_id, after=after, limit=limit, segment_id=segment_id)


def list_imports(
    runtime: Runtime, workspace_id: str, *, after: str | None = None, limit: int = 20
) -> dict[str, Any]:
    from shared.queries.jobs import CANDIDATE_IMPORTS

    return page(runtime.db, CANDIDATE_IMPORTS, workspace_id, after=after, limit=limit)
