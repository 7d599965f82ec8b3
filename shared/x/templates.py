"""Post templates: text with `{placeholders}` the composer fills."""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationError
from shared.x import store
from shared.x.models import TEMPLATES, Template

if TYPE_CHECKING:
    from shared.runtime import Runtime

_FORMATTER = string.Formatter()


def _placeholders(text: str) -> list[str]:
    names: list[str] = []
    try:
        for _, name, spec, conv in _FORMATTER.parse(text):
            if name is None:
                continue
            if not name.isidentifier() or spec or conv:
                raise ValidationError(
                    f"placeholder {{{name}}} must be a plain name like {{product}}"
                )
            if name not in names:
                names.append(name)
    except ValueError as exc:
        raise ValidationError(
            f"template text is malformed: {exc} (write {{{{ for a literal brace)"
        ) from exc
    return names


def create_template(
    runtime: Runtime, workspace_id: str, *, name: str, text: str, **extra: Any
) -> dict[str, Any]:
    if not name.strip() or not text.strip():
        raise ValidationError("a template needs a name and a text")
    now = runtime.clock.now()
    template = Template(
        id=store.new_id(),
        workspace_id=workspace_id,
        name=name.strip(),
        text=text,
        placeholders=_placeholders(text),
        created_at=now,
        updated_at=now,
        extra=extra,
    )
    store.insert(runtime, template)
    return template.to_dict()


def get_template(runtime: Runtime, workspace_id: str, template_id: str) -> dict[str, Any]:
    return store.load(runtime, Template, workspace_id, template_id, "template").to_dict()


def list_templates(
    runtime: Runtime, workspace_id: str, limit: int = 50, after: str | None = None
) -> dict[str, Any]:
    from shared.queries.x import TEMPLATES as TEMPLATE_LIST

    return store.page(runtime, Template, TEMPLATE_LIST, workspace_id, limit=limit, after=after)


def update_template(
    runtime: Runtime, workspace_id: str, template_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    from shared.docsize import ensure_fits

    current = store.load(runtime, Template, workspace_id, template_id, "template")
    update: dict[str, Any] = {"updated_at": runtime.clock.now()}
    if "name" in changes:
        if not str(changes["name"]).strip():
            raise ValidationError("template name is empty")
        update["name"] = str(changes["name"]).strip()
    if "text" in changes:
        update["text"] = str(changes["text"])
        update["placeholders"] = _placeholders(update["text"])
    ensure_fits(f"{TEMPLATES}/{template_id}", {**current.to_doc(), **update}, "template")
    runtime.db.collection(TEMPLATES).document(template_id).update(update)
    return get_template(runtime, workspace_id, template_id)


def delete_template(runtime: Runtime, workspace_id: str, template_id: str) -> None:
    store.load(runtime, Template, workspace_id, template_id, "template")
    runtime.db.collection(TEMPLATES).document(template_id).delete()


def render_template(
    runtime: Runtime, workspace_id: str, template_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    """The template's text with its placeholders filled; all of them are required."""
    from shared.text import weighted_length

    template = store.load(runtime, Template, workspace_id, template_id, "template")
    missing = [n for n in template.placeholders if str(values.get(n, "")).strip() == ""]
    if missing:
        raise ValidationError(
            f"missing values for {', '.join('{' + m + '}' for m in missing)}",
            {"missing": missing},
        )
    text = template.text.format_map({n: str(values[n]) for n in template.placeholders})
    return {"text": text, "weighted_length": weighted_length(text)}
