"""axios: ``axios(config)``, ``axios(url, config)``, ``axios.get(url, config)``, ``axios.post(url, data, config)``…,
``axios.request(config)``, and the same on instances from ``axios.create({baseURL})``, whose ``baseURL`` is put in
front of relative URLs (axios' ``combineURLs``; an absolute URL is used as it is).

Source: axios' request method aliases (``get``, ``delete``, ``head``, ``options`` take ``(url, config)``; ``post``,
``put``, ``patch`` and their ``*Form`` variants take ``(url, data, config)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._parse import text
from .._values import UNDEFINED, AxiosInstance, Obj, Package, Param, Text, Unknown, Value, get_prop

if TYPE_CHECKING:
    from .._engine import CallSpec
    from . import Site

URL_CONFIG = {"get", "delete", "head", "options"}
URL_DATA_CONFIG = {"post", "put", "patch", "postForm", "putForm", "patchForm"}


def _is_axios(value: Value) -> bool:
    return isinstance(value, Package) and value.package == "axios" and value.name in ("default", "*", "axios")


def _used(site: Site, instance: Value) -> None:
    if isinstance(instance, AxiosInstance) and instance.origin is not None:
        site.engine.axios_called.add(instance.origin)


def _chosen_verb(site: Site) -> list[CallSpec] | None:
    """``api[verb](url)``: an axios method chosen at run time; the URL is taken from the first argument."""
    from .._engine import CallSpec

    owner = site.value(site.callee_node.child_by_field_name("object"))
    if not (_is_axios(owner) or isinstance(owner, AxiosInstance)):
        return None
    chosen = site.value(site.callee_node.child_by_field_name("index"))
    if isinstance(chosen, Text) and chosen.literal is not None:
        return None  # api['get'](url): a literal index, read as api.get(url)
    _used(site, owner)
    method = Unknown(f"the axios method of `{text(site.callee_node)[:60]}(…)` is chosen at run time")
    base = get_prop(owner.config, "baseURL") if isinstance(owner, AxiosInstance) else UNDEFINED
    return [CallSpec("axios", method, site.arg(0), base, site.location)]


def detect(site: Site) -> list[CallSpec] | None:
    from .._engine import CallSpec

    obj_node, prop = site.member_parts()
    instance: Value | None = None
    verb: str | None = None
    if obj_node is not None and (prop in URL_CONFIG or prop in URL_DATA_CONFIG or prop == "request"):
        owner = site.value(obj_node)
        if _is_axios(owner) or isinstance(owner, AxiosInstance):
            instance, verb = owner, prop
    if instance is None and site.callee_node.type == "subscript_expression":
        return _chosen_verb(site)
    if instance is None:
        callee = site.callee
        if _is_axios(callee) or isinstance(callee, AxiosInstance):
            instance = callee
        elif isinstance(callee, Package) and callee.package == "axios" and callee.name in URL_CONFIG | URL_DATA_CONFIG:
            instance, verb = Package("axios", "default"), callee.name
        else:
            return None
    _used(site, instance)
    base: Value = get_prop(instance.config, "baseURL") if isinstance(instance, AxiosInstance) else UNDEFINED
    if verb in URL_CONFIG or verb in URL_DATA_CONFIG:
        config = site.arg(1 if verb in URL_CONFIG else 2)
        method: Value = Text.of(verb.removesuffix("Form").upper())
        url = site.arg(0)
    else:  # axios(config), axios(url, config), axios.request(config)
        first = site.arg(0)
        if isinstance(first, Obj) or (isinstance(first, Param) and (verb == "request" or len(site.arg_nodes) == 1)):
            config, url = first, get_prop(first, "url")
        else:
            config, url = site.arg(1), first
        method = get_prop(config, "method")
    override = get_prop(config, "baseURL")
    if not isinstance(override, type(UNDEFINED)):
        base = override
    return [CallSpec("axios", method, url, base, site.location)]
