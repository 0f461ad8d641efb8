"""Rendered HTML fragments kept in memory by each app server, keyed by the data they show.

A fragment's key holds everything the fragment depends on, down to the rows it renders (read by one
small query, far cheaper than loading and rendering them). An entry is therefore never invalidated
and can never be stale: when the data changes, the key changes, and the old entry ages out of the
least-recently-used order. Every process keeps its own cache, and several app servers stay coherent
because every key comes from the shared database.

What differs per session is never stored. Fragments are rendered with a random placeholder where the
CSRF token goes, and the placeholder is replaced by the current session's token on the way out.

A third cache keeps the rest of a page around such a fragment (``FragmentCache.render_page``): the
layout, the navigation and the page's header, keyed by what they show of the signed-in user
(``templating.layout_key``) and of the page's records. The request id in the footer is a placeholder too,
and a page with a flashed message waiting is always rendered afresh.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import Flask, current_app, g, session
from flask.globals import request_ctx
from markupsafe import Markup

from portal.security import csrf_token

EXTENSION = "fragment_cache"
ROWS_EXTENSION = "row_cache"
PAGES_EXTENSION = "page_cache"


class FragmentCache:
    """A bounded LRU map from keys to rendered HTML, safe to share between threads."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        # Random per process: no user text can hold it, because no user ever sees it.
        self.csrf_placeholder = f"csrf-{secrets.token_hex(16)}"
        self.request_id_placeholder = f"request-{secrets.token_hex(16)}"
        self.body_placeholder = f"body-{secrets.token_hex(16)}"
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            html = self._entries.get(key)
            if html is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return html

    def put(self, key: Hashable, html: str) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._entries[key] = html
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def render(self, key: Hashable | None, render: Callable[[Callable[[], Markup]], str],
               csrf: Callable[[], str] = csrf_token) -> Markup:
        """The fragment of ``key``, rendered by ``render`` on a miss, with this session's CSRF token.

        ``render`` receives the function to call wherever the template wants ``csrf_token()``; ``csrf``
        gives the session's token (a caller rendering many rows passes one that remembers it). A key of
        None renders without the cache (a form shown again with the user's input and errors).
        """
        if key is None:
            return Markup(render(csrf))  # noqa: S704 - HTML rendered by an autoescaping template
        html = self.get(key)
        if html is None:
            html = render(lambda: Markup(self.csrf_placeholder))  # noqa: S704 - our own hex string
            self.put(key, html)
        if self.csrf_placeholder not in html:  # most rows hold no form
            return Markup(html)  # noqa: S704 - rendered HTML
        # The token is URL-safe base64 with dots: nothing to escape.
        return Markup(html.replace(self.csrf_placeholder, csrf()))  # noqa: S704 - rendered HTML

    def render_page(self, key: Hashable | None, render: Callable[[Callable[[], Markup], str, Markup], str],
                    body: Markup, csrf: Callable[[], str] = csrf_token) -> str:
        """A whole page: ``body`` (a fragment rendered or cached on its own) inside the rest of the page,
        which is kept under ``key``.

        ``render`` receives the function to call for ``csrf_token()``, the request id the footer shows
        and the body to place, and renders the page. On a miss it is called with placeholders for the
        three, and what it renders is kept; on every use the placeholders are replaced by this request's
        token, id and body (where the page placed it, if it did). A key of None, or a flashed message
        waiting to be shown (the layout shows it once), renders the page afresh. The key must hold
        everything else the page shows: for the layout, ``templating.layout_key()``.
        """
        request_id = str(g.get("request_id", ""))
        # In debug mode static URLs follow file edits (templating._memoized_url_for): nothing is kept.
        if key is None or session.get("_flashes") or request_ctx.flashes or current_app.debug:
            return render(csrf, request_id, body)
        shell = self.get(key)
        if shell is None:
            token_placeholder = Markup(self.csrf_placeholder)  # noqa: S704 - our own hex string
            body_placeholder = Markup(self.body_placeholder)  # noqa: S704 - our own hex string
            shell = render(lambda: token_placeholder, self.request_id_placeholder, body_placeholder)
            self.put(key, shell)
        # The request id is letters, digits, dots, dashes and underscores (security._REQUEST_ID), the token
        # URL-safe base64 with dots: nothing to escape in either. The body goes in last, wherever the page
        # placed it (a queue page without rows places it nowhere), so nothing in it is ever taken for a
        # placeholder; joined as text, as a str added to Markup would be escaped.
        token = csrf() if self.csrf_placeholder in shell else ""
        parts = (part.replace(self.csrf_placeholder, token).replace(self.request_id_placeholder, request_id)
                 for part in shell.split(self.body_placeholder))
        return str(body).join(parts)


def init_app(app: Flask) -> None:
    """One cache per application (tests build many apps over databases that reuse ids): page fragments,
    the rows of long tables (a separate cache, so that thousands of small rows do not push the large
    page fragments out), and the pages around fragments (one per user and page: a cache of their own
    too)."""
    app.extensions[EXTENSION] = FragmentCache(int(app.config.get("FRAGMENT_CACHE_ENTRIES", 0)))
    app.extensions[ROWS_EXTENSION] = FragmentCache(int(app.config.get("ROW_CACHE_ENTRIES", 0)))
    app.extensions[PAGES_EXTENSION] = FragmentCache(int(app.config.get("PAGE_CACHE_ENTRIES", 0)))


def fragment_cache(app: Any = None) -> FragmentCache:
    return (app or current_app).extensions[EXTENSION]


def row_cache(app: Any = None) -> FragmentCache:
    """The cache of table rows: each row's key is the row's own values (a named tuple) and the rights
    that change its actions, so that a row of the review queue renders once per state."""
    return (app or current_app).extensions[ROWS_EXTENSION]


def page_cache(app: Any = None) -> FragmentCache:
    """The cache of the pages around fragments (``FragmentCache.render_page``)."""
    return (app or current_app).extensions[PAGES_EXTENSION]
