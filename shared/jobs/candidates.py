"""Candidates imported from CSV / XLSX.

`candidates/{id}`: workspace_id, name, email, skills [lower-case], years_experience,
location, education, source, import_id, updated_at, sort_key (= id), and after a
segmentation run segment_id / segment_run_id. The id is a hash of the workspace and the
e-mail (or of the row's content when there is none), so importing the same file twice
updates rather than duplicates.

`candidate_imports/{id}`: the validation report of one upload, the same shape as the
contact import's: total_rows, imported, rejected, rows [{row, reason}].
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationError
from shared.jobs.store import page, public, sort_key
from shared.tabular import read_table
from shared.tenancy import new_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

CANDIDATES = "candidates"
IMPORTS = "candidate_imports"
REPORT_ROWS = 500  # rejected rows kept in the report; the count is always exact
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


def _pick(row: dict[str, str], field: str) -> str:
    for alias in ALIASES[field]:
        if row.get(alias):
            return row[alias].strip()
    return ""


def parse_row(row: dict[str, str]) -> dict[str, Any]:
    """One candidate from one row; ValidationError's message is the row's reason."""
    raw_years = _pick(row, "years_experience")
    if not raw_years:
        raise ValidationError("years of experience is empty")
    try:
        years = float(raw_years.replace(",", "."))
    except ValueError as exc:
        raise ValidationError(f"years of experience {raw_years!r} is not a number") from exc
    if not 0 <= years <= 70:
        raise ValidationError(f"years of experience {raw_years!r} is outside 0-70")
    skills = sorted({s.strip().lower() for s in _SPLIT.split(_pick(row, "skills")) if s.strip()})
    if not skills:
        raise ValidationError("skills is empty")
    if len(skills) > MAX_SKILLS:
        raise ValidationError(f"more than {MAX_SKILLS} skills")
    location = _pick(row, "location")
    if not location:
        raise ValidationError("location is empty")
    email = _pick(row, "email").lower()
    if email and not _EMAIL.match(email):
        raise ValidationError(f"email {email!r} is not an e-mail address")
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


def import_candidates(
    runtime: Runtime,
    workspace_id: str,
    data: bytes,
    filename: str,
    content_type: str | None = None,
) -> dict[str, Any]:
    """Validate every row, write the valid ones, return the report (also stored)."""
    table = read_table(data, filename, content_type=content_type)
    if not any(h in table.headers for h in ALIASES["skills"]):
        raise ValidationError("missing column: skills", {"found": table.headers})
    now = runtime.clock.now()
    import_id = new_id()
    rejected: list[dict[str, Any]] = []
    valid: dict[str, dict[str, Any]] = {}
    for number, row in table.rows:
        try:
            cand = parse_row(row)
        except ValidationError as exc:
            rejected.append({"row": number, "reason": exc.message})
            continue
        cid = candidate_id(workspace_id, cand)
        if cid in valid:
            rejected.append({"row": number, "reason": "duplicate of an earlier row"})
            continue
        valid[cid] = cand
    db = runtime.db
    batch = db.batch()
    pending = 0
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
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()
    report = {
        "workspace_id": workspace_id,
        "filename": filename[:200],
        "created_at": now,
        "sort_key": sort_key(now, import_id),
        "total_rows": len(table.rows),
        "imported": len(valid),
        "rejected": len(rejected),
        "rows": rejected[:REPORT_ROWS],
        "truncated": len(rejected) > REPORT_ROWS,
    }
    db.collection(IMPORTS).document(import_id).set(report)
    return public({**report, "id": import_id})


def list_candidates(
    runtime: Runtime,
    workspace_id: str,
    *,
    segment_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    filters: tuple[tuple[str, str, Any], ...] = ()
    if segment_id:
        filters = (("segment_id", "==", segment_id),)
    return page(runtime.db, CANDIDATES, workspace_id, after=after, limit=limit, filters=filters)


def list_imports(
    runtime: Runtime, workspace_id: str, *, after: str | None = None, limit: int = 20
) -> dict[str, Any]:
    return page(runtime.db, IMPORTS, workspace_id, after=after, limit=limit)
