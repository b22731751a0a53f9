"""Request and response bodies of the REST API (pydantic): every input bounded, every error names its field."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

#: What the loaders strip from shown text (``genrec.textsafe.CONTROL_RE``: C0 and C1 controls, DEL, bidi
#: embeddings, overrides and isolates), except carriage return: a browser's text box sends line breaks as CR LF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    """Refuse control characters (bidi overrides too) and text that is not valid Unicode (lone surrogates)."""
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters (C0, C1, or bidirectional overrides and isolates)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError("must be valid Unicode text") from err
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text.strip()


ItemId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f]+$"), AfterValidator(_clean)]
UserId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@:\-]+$")]
SessionId = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^s_[0-9a-f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_clean), AfterValidator(_not_blank)]
Instruction = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_clean), AfterValidator(_not_blank)]
Label = Annotated[str, Field(max_length=200), AfterValidator(_clean)]
Price = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]


class Strict(BaseModel):
    """Unknown fields are an error (a typo in a field name must not be ignored)."""

    model_config = ConfigDict(extra="forbid")


class FiltersIn(Strict):
    """Hard filters: only items of these brands / categories / price range are recommended."""

    brands: list[Name] = Field(default_factory=list, max_length=20)
    categories: list[Name] = Field(default_factory=list, max_length=20)
    price_min: Price | None = None
    price_max: Price | None = None

    @model_validator(mode="after")
    def _range(self) -> FiltersIn:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError("price_min must not exceed price_max")
        return self


class RecommendIn(Strict):
    """A recommendation request: for the caller, another user (admins), or an anonymous history."""

    # strict: true and "5" are not numbers, "yes" is not a boolean
    k: int = Field(default=10, ge=1, le=100, strict=True, description="how many items")
    exclude_history: bool = Field(default=True, strict=True, description="never recommend items of the history")
    history: list[ItemId] | None = Field(
        default=None,
        max_length=200,
        description="an anonymous history (catalog item ids, oldest first) instead of a user's",
    )
    user_id: UserId | None = Field(default=None, description="whose recommendations (admins only; default: the caller)")
    filters: FiltersIn = Field(default_factory=FiltersIn)
    exclude_items: list[ItemId] = Field(default_factory=list, max_length=200, description="never recommend these")


class ItemOut(BaseModel):
    """A catalog item in a list."""

    item_id: str
    title: str
    brand: str | None = None
    price: float | None = None
    categories: list[str] = Field(default_factory=list)
    score: float | None = None
    why: str | None = None


class RecommendOut(BaseModel):
    """A recommendation list."""

    user_id: str | None
    model: str
    items: list[ItemOut]
    model_version: int


FeedbackKind = Literal["like", "dislike", "skip", "click", "purchase"]


class FeedbackIn(Strict):
    """A feedback event on one item, or a skip of a whole list."""

    kind: FeedbackKind
    item_id: ItemId | None = Field(default=None, description="the item (required except for a skipped list)")
    items: list[ItemId] = Field(default_factory=list, max_length=100, description="a skipped list's items")
    session_id: SessionId | None = Field(default=None, description="the conversation the feedback belongs to")

    @model_validator(mode="after")
    def _target(self) -> FeedbackIn:
        if self.item_id is None and not (self.kind == "skip" and self.items):
            raise ValueError("item_id is required (a skip may give the skipped list's items instead)")
        if self.items and self.kind != "skip":
            raise ValueError("items is only for a skipped list (kind 'skip')")
        return self


class FeedbackOut(BaseModel):
    """A stored feedback event (stored before this answer was sent)."""

    event_id: int
    kind: str
    item_id: str | None
    items: list[str]
    session_id: str | None
    at: float


class SessionIn(Strict):
    """A new conversation."""

    title: Label = ""


class SessionOut(BaseModel):
    """A conversation."""

    session_id: str
    title: str = ""
    created_at: float | None = None
    turns: int = 0
    last_turn_at: float | None = None


class TurnIn(Strict):
    """An instruction for the loop."""

    instruction: Instruction
    wait_seconds: float = Field(
        default=0.0, ge=0.0, le=60.0, description="wait this long for the answer before returning"
    )


class JobOut(BaseModel):
    """A turn in flight (``status`` queued / running) or finished (``result`` or ``error``)."""

    job_id: str
    status: str
    session_id: str
    instruction: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    seconds: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class KeyIn(Strict):
    """A new API key (admins only)."""

    user_id: UserId
    role: Literal["user", "admin"] = "user"
    label: Label = ""


class KeyOut(BaseModel):
    """A new key: shown once."""

    key_id: str
    user_id: str
    role: str
    key: str


class Problem(BaseModel):
    """An error."""

    detail: Any
