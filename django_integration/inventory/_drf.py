"""What Django REST framework's two view styles share: the classes a view declares and the permission
evaluation of an anonymous request, done as DRF does when the request arrives (``initialize_request``, then
``get_permissions()`` and each ``has_permission()``), under the write guard and with the user set to
``AnonymousUser`` (no authenticator runs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._base import Access, dotted, no_writes, sample_path


def declared(cls: type, name: str) -> tuple[str, ...]:
    """The classes a view declares in ``name`` (``authentication_classes``, ``throttle_classes``), as names."""
    return tuple(dotted(item) for item in getattr(cls, name, ()) or ())


def session_without_csrf(cls: type) -> bool:
    """Whether the view authenticates Django sessions with a SessionAuthentication whose CSRF check is skipped
    (the "CsrfExemptSessionAuthentication" recipe): session writes from any site then succeed. This is what
    CSRF exemption means for a REST framework view: DRF exempts every view from Django's middleware and checks
    CSRF itself, in SessionAuthentication, for requests a session authenticates."""
    from rest_framework.authentication import SessionAuthentication

    for auth in getattr(cls, "authentication_classes", ()) or ():
        overridden = (
            isinstance(auth, type)
            and issubclass(auth, SessionAuthentication)
            and (auth.enforce_csrf is not SessionAuthentication.enforce_csrf)
        )
        if overridden:
            return True
    return False


def serializer_of(view: Any) -> str | None:
    getter = getattr(view, "get_serializer_class", None)
    if getter is None:
        return None
    try:
        return dotted(getter())
    except Exception:  # no serializer_class, or one that needs a real request
        return None


def build_view(cls: type, initkwargs: Mapping[str, Any], route: str, method: str, kwargs: tuple[str, ...],
               actions: Mapping[str, str] | None = None) -> Any:  # fmt: skip
    """The view instance DRF would make for an anonymous ``method`` request to ``route``."""
    view = cls(**dict(initkwargs))
    if actions is not None:
        view.action_map = dict(actions)
        for http_method, action in actions.items():
            handler = getattr(view, action, None)
            if handler is not None:
                setattr(view, http_method, handler)
    # Imported here: a project without django.contrib.auth can still install the integration (DRF needs auth).
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    django_request = RequestFactory().generic(method, sample_path(route))
    view.args, view.kwargs = (), dict.fromkeys(kwargs, "1")
    view.format_kwarg = None
    view.headers = {}
    request = view.initialize_request(django_request)  # a ViewSet sets view.action here
    request.user = AnonymousUser()  # as authentication would leave a request without credentials
    view.request = request
    return view


def evaluate(make_view: Callable[[], Any], authentication: tuple[str, ...]) -> Access:
    """The effective permissions of the view ``make_view`` builds, and whether its anonymous request passes."""
    from rest_framework.permissions import AllowAny

    try:
        with no_writes():
            view = make_view()
            permissions = list(view.get_permissions())
            names = tuple(dotted(p) for p in permissions)
            anonymous = all(p.has_permission(view.request, view) for p in permissions)
    except Exception as error:  # a permission that needs a real request or object: said, not guessed
        return Access(note=f"permissions could not be evaluated: {type(error).__name__}: {str(error)[:200]}")
    public = not authentication or (bool(permissions) and all(isinstance(p, AllowAny) for p in permissions))
    return Access(permissions=names, anonymous=anonymous, public=public)
