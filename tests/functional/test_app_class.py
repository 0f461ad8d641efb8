"""The portal's Flask class (portal/__init__.py): templates' globals taken once, hooks checked once.

``TemplateEnvironment`` copies the environment's globals into each template when it is loaded, where
Jinja keeps a live ``ChainMap``: that is only the same if no global is added once templates are in use,
which the first test checks over pages of every kind of user.
"""

from __future__ import annotations

from typing import Any

from portal import SYNC_MEMO_ENTRIES, PortalFlask
from portal.db import db_session
from tests import factories


def _visit(client: Any, login: Any, email: str | None, paths: list[str]) -> None:
    if email:
        login(email, test_client=client)
    for path in paths:
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, (email, path, response.status_code)


def test_no_template_global_is_added_after_templates_are_loaded(app, cast, login):
    with app.app_context():
        profile_id = factories.profile_of(cast.account_a).id
        db_session.remove()
    before = dict(app.jinja_env.globals)
    _visit(app.test_client(), login, None, ["/", "/auth/login"])
    officer_pages = ["/", f"/profiles/{profile_id}", f"/profiles/{profile_id}/categories/1",
                     f"/profiles/{profile_id}/categories/1", f"/profiles/{profile_id}/categories/2"]
    _visit(app.test_client(), login, cast.email("officer_a"), officer_pages)
    staff_pages = ["/", "/reviews", "/reviews/dashboard", "/criteria", "/mra-programs", "/calendar"]
    _visit(app.test_client(), login, cast.email("reviewer"), staff_pages)
    _visit(app.test_client(), login, cast.email("supervisor"), ["/", "/reviews"])

    assert app.jinja_env.globals == before
    loaded = [template for _, template in app.jinja_env.cache.items()]  # type: ignore[union-attr]
    assert len(loaded) > 10  # layouts, pages, includes and macro files were all loaded
    for template in loaded:
        assert type(template.globals) is dict, template.name
        assert template.globals == before, template.name


def test_a_template_of_its_own_globals_keeps_them_to_itself(app):
    env = app.jinja_env
    own = env.from_string("{{ greeting }} {{ url_for('auth.login') }}", globals={"greeting": "Hello"})
    shared = env.from_string("{{ greeting is defined }}")
    with app.test_request_context("/"):
        assert own.render() == "Hello /auth/login"
        assert shared.render() == "False"
    assert "greeting" not in env.globals


def test_a_macro_imported_into_a_page_renders_in_it(app):
    page = app.jinja_env.from_string(
        '{% from "macros/ui.html" import status_badge %}{{ status_badge(status) }}')
    html = page.render(status={"badge": "draft", "label": "In progress"})
    assert html == '<span class="usa-tag portal-tag portal-tag--draft">In progress</span>\n'



def test_a_function_is_checked_once_and_a_coroutine_function_still_wrapped(app, monkeypatch):
    wrapped: list[Any] = []

    def to_sync(func: Any) -> Any:
        wrapped.append(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            # Driven by hand: another test of the same worker may have left an event loop running.
            try:
                func(*args, **kwargs).send(None)
            except StopIteration as done:
                return done.value
            raise AssertionError("the coroutine awaited something")

        return run

    monkeypatch.setattr(app, "async_to_sync", to_sync)

    def plain() -> str:
        return "plain"

    async def later() -> str:
        return "later"

    assert isinstance(app, PortalFlask)
    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    first = app.ensure_sync(later)
    assert first() == "later" and app.ensure_sync(later) is first
    assert wrapped == [later]  # wrapped once, then served from the memo


def test_the_memo_does_not_grow_past_its_bound(app):
    for _ in range(SYNC_MEMO_ENTRIES + 50):
        def made_afresh() -> None:
            return None
        assert app.ensure_sync(made_afresh) is made_afresh
    assert len(app._sync_functions) <= SYNC_MEMO_ENTRIES
