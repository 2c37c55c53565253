"""The OpenAPI description of a listing's 200 body: :class:`Page` and :func:`page_model`.

A route that returns :meth:`~qfilter.integrations.fastapi.RequestListing.page`
(or :func:`~qfilter.integrations.listing.page_body`) documents its body with
``responses={200: {"model": page_model(Device, items_key="devices")}}``, or
``Page[Device]`` when the list is under ``items``. The models describe the
body; they do not shape it: ``responses=`` leaves the route's dict as it is
(``response_model=`` would run every body through pydantic again). Both are
importable from :mod:`qfilter.integrations.fastapi`.
"""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

__all__ = ["Link", "PageFields", "Page", "page_model"]

Item = TypeVar("Item")


class Link(BaseModel):
    """A link of a page: ``{"href": ...}``."""

    href: str


class PageFields(BaseModel):
    """What every listing body has besides its items: the links, the window and the count."""

    model_config = ConfigDict(populate_by_name=True)

    links: dict[str, Link] = Field(
        alias="_links",
        description=(
            "`self`, `first`, and where they apply `prev`, `next` and `last` (`last` only with an exact total); "
            "past the first page of a listing by cursor, `next` and `prev` carry a `cursor`."
        ),
    )
    count: int = Field(ge=0, description="The number of items on this page.")
    offset: int = Field(ge=0, description="The position of the page's first item among all the matches.")
    limit: int = Field(ge=0, description="The most items a page holds.")
    total: int | None = Field(None, ge=0, description="The number of matches, when counted exactly.")
    total_count: int | None = Field(None, ge=0, description="`total` again, under the name Waylay's SDK reads.")
    total_at_least: int | None = Field(
        None, ge=0, description="At least this many match: given instead of `total` past a capped count's cap."
    )


class Page(PageFields, Generic[Item]):
    """A listing body whose items are under ``items`` (the default ``items_key``), each an ``Item``."""

    items: list[Item] = Field(description="The page: the matches in the order asked for.")


def page_model(
    item: Any, *, items_key: str = "items", messages: bool = False, name: str | None = None
) -> type[PageFields]:
    """The model of a listing body with ``item`` (a model or any type pydantic reads) under ``items_key``.

    ``messages=True`` adds the ``messages`` list, for bodies made with
    ``messages=`` (the Waylay search API's shape). ``name`` is the model's
    name in the OpenAPI document (``<Item>Page`` by default); two routes
    with different bodies need different names.
    """
    fields: dict[str, Any] = {
        "page_items": (list[item], Field(alias=items_key, description="The page: the matches in the order asked for."))
    }
    if messages:
        fields["messages"] = (list[Any], Field(description="Messages about the request; usually none."))
    model_name = name or f"{getattr(item, '__name__', 'Item')}Page"
    return create_model(model_name, __base__=PageFields, **fields)
