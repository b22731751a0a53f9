"""What the instructor understood: the action to take and the constraints, as typed objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

Action = Literal["retrieve", "edit", "create", "clarify"]
ACTIONS: tuple[str, ...] = ("retrieve", "edit", "create", "clarify")
#: Requests the loop declines (and says so): another person's data, a copy of an item, personal data in an item.
Declined = Literal["other_users_data", "copy", "personal_data"]
DECLINES: tuple[str, ...] = ("other_users_data", "copy", "personal_data")
#: Constraint fields retrieval applies as filters (an item that violates one is never shown); the
#: others are soft (a boost in the ranking). A wrong hard constraint hides every item it wrongly
#: matches, a wrong soft one only reorders the list, so the instructor sets hard ones more carefully.
HARD_FIELDS = frozenset(
    {
        "exclude_categories",
        "exclude_brands",
        "exclude_attributes",
        "exclude_words",
        "price_min",
        "price_max",
        "unlike_items",
    }
)
SOFT_FIELDS = frozenset({"categories", "brands", "attributes", "style_words", "like_items", "price_order"})
PRICE_ORDERS: tuple[str, ...] = ("asc", "desc")


class Constraints(BaseModel):
    """Wanted and unwanted attributes of the items to show or make (values use the catalog's spelling)."""

    categories: list[str] = Field(default_factory=list, description="wanted categories")
    exclude_categories: list[str] = Field(default_factory=list, description="unwanted categories")
    brands: list[str] = Field(default_factory=list, description="wanted brands")
    exclude_brands: list[str] = Field(default_factory=list, description="unwanted brands (a hard constraint)")
    price_min: float | None = Field(default=None, description="lowest acceptable price")
    price_max: float | None = Field(default=None, description="highest acceptable price")
    attributes: dict[str, list[str]] = Field(default_factory=dict, description="wanted attribute values by name")
    exclude_attributes: dict[str, list[str]] = Field(default_factory=dict, description="unwanted attribute values")
    style_words: list[str] = Field(default_factory=list, description="free words the user wants (e.g. 'vintage')")
    exclude_words: list[str] = Field(default_factory=list, description="free words the user does not want")
    like_items: list[str] = Field(default_factory=list, description="item ids: 'more like X'")
    unlike_items: list[str] = Field(default_factory=list, description="item ids: 'not like Y'")
    price_order: Literal["asc", "desc"] | None = Field(
        default=None, description="'asc': the cheapest first ('cheapest'), 'desc': the priciest first (a soft boost)"
    )

    def is_empty(self) -> bool:
        """True when nothing was understood."""
        return not any(v for v in self.model_dump().values() if v is not None)


class Intent(BaseModel):
    """The instructor's output: action, constraints, and why."""

    action: Action
    constraints: Constraints = Field(default_factory=Constraints)
    target_item: str | None = Field(default=None, description="item id an edit applies to")
    question: str | None = Field(default=None, description="the clarifying question when action is 'clarify'")
    reason: str = Field(default="", description="what triggered the action (instruction, repeated rejections, ...)")
    declined: Declined | None = Field(
        default=None, description="what the loop must decline and say so (the action is what was asked)"
    )


@dataclass
class Guidance:
    """Vectors that steer the generators, all in the text encoder's space (unit norm, or None)."""

    instruction: np.ndarray | None = None  # the instruction's embedding
    user: np.ndarray | None = None  # the recommender's user representation, mapped to the text space
    liked: np.ndarray | None = None  # mean embedding of the user's liked / interacted items
    extras: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Feedback:
    """A user's explicit feedback so far (item ids), and how many retrieved lists they rejected in a row."""

    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    clicks: list[str] = field(default_factory=list)
    rejections: int = 0  # consecutive retrieved lists the user rejected (disliked / skipped all)


@dataclass
class Turn:
    """One dialogue turn: who spoke and what."""

    role: str  # "user" or "system"
    text: str
