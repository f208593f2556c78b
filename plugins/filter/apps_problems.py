# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: apps_problems
short_description: Problems of the service entries of the tracing.xray.apps role, checked before its first change
version_added: 0.2.0
author: tracing.xray maintainers (@tracing-xray)
description:
  - Takes the list of services the apps role deploys (C(apps_services), or the preset's list) and returns a list of
    messages, one per problem (empty when all is well). Each message starts with where the entry is
    (C(apps_services[2]), or C(preset sample entry 2)) and names the field and what is allowed.
  - Checks, per entry - C(name) (a DNS-1035 label), C(image) (required, pinned with a tag or a digest), C(port),
    C(service_port) (1-65535), C(replicas) (an integer >= 0), C(service_type), C(calls) (other services of the list),
    C(env) and C(secret_env) names (environment variable names, none of O(reserved_env), not in both),
    C(secret_env) values (not empty), C(ingress_path), C(health_path) and C(writable_paths) (absolute),
    C(resources) (requests and limits), C(run_as_user) (a non-zero uid) and C(labels) (a mapping).
  - The values of C(secret_env) never appear in a message, only their names.
options:
  _input:
    description: The service entries (dicts), in order.
    type: list
    elements: dict
    required: true
  preset:
    description:
      - The name of the preset the entries come from, or V(null) when they are the user's C(apps_services).
      - Only changes how a message names the entry.
    type: str
  reserved_env:
    description: Environment variable names the role sets itself; an entry may not set them.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Check every service entry before any change
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "tracing.xray.apps: {{ problems | join(' ') }}"
  vars:
    problems: "{{ apps_services | tracing.xray.apps_problems(reserved_env=['AWS_XRAY_TRACING_NAME']) }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the entries are good.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.datatag import native_type_name
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.filter.core import to_json

from ansible_collections.tracing.xray.plugins.plugin_utils.checks import DNS1035_LABEL
from ansible_collections.tracing.xray.plugins.plugin_utils.checks import match

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# "repo" or "repo:" would roll out whatever :latest is today (or an invalid reference): a tag or a digest is required.
IMAGE_REF = r"^[^\s]*[^/\s:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$"
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
_MISSING = object()


def _is_sequence(value):
    """Jinja's ``sequence`` test (a string or a mapping passes it too; callers exclude what they must)."""
    try:
        len(value)
        value.__getitem__  # noqa: B018 - the test is whether the attribute exists
    except Exception:  # noqa: BLE001 - any failure means "not a sequence", as in Jinja
        return False
    return True


def _digits(value):
    return match(r"^[0-9]+$", str(value))


def _port(value):
    return _digits(value) and 1 <= int(str(value)) <= 65535


def _json(value):
    return to_json(None if value is _MISSING else value)


def _entry_problems(entry, where, names, reserved_env):
    get = entry.get
    name = get("name", "")
    image = get("image", "")
    problems = []

    def check(ok, msg):
        if not ok:
            problems.append(f"{where}: {msg}")

    check(isinstance(name, str) and match(DNS1035_LABEL, name),
          f"name must be a DNS-1035 label (lowercase letters, digits and '-', at most 63); got {_json(get('name', _MISSING))}.")
    check(isinstance(image, str) and len(image) > 0, "image is required.")
    check(not isinstance(image, str) or len(image) == 0 or match(IMAGE_REF, image),
          "image must be pinned with a tag or a digest (repository:tag such as public.ecr.aws/org/app:1.2.3, or "
          f"repository@sha256:<64 hex>), without spaces; got {_json(get('image', _MISSING))}.")
    check(_port(get("port", "")), f"port must be an integer 1-65535; got {_json(get('port', _MISSING))}.")
    check("service_port" not in entry or _port(entry["service_port"]),
          f"service_port must be an integer 1-65535; got {_json(get('service_port', _MISSING))}.")
    check("replicas" not in entry or _digits(entry["replicas"]),
          f"replicas must be an integer >= 0; got {_json(get('replicas', _MISSING))}.")
    check(get("service_type", "ClusterIP") in SERVICE_TYPES,
          f"service_type must be ClusterIP, NodePort or LoadBalancer; got {_json(get('service_type', _MISSING))}.")
    calls = get("calls", [])
    check(_is_sequence(calls) and not isinstance(calls, str) and all(call in names for call in calls) and name not in calls,
          f"calls must name other services of the list ({', '.join(map(to_text, names))}); got {_json(get('calls', _MISSING))}.")

    env = get("env", {})
    env_keys = list(env) if isinstance(env, Mapping) else ["<env must be a mapping>"]
    secret_env = get("secret_env", {})
    secret_keys = list(secret_env) if isinstance(secret_env, Mapping) else ["<secret_env must be a mapping>"]
    bad_env = [key for key in env_keys if not match(ENV_NAME, key)]
    check(not bad_env, f"env names must match {ENV_NAME}; got {to_json(bad_env)}.")
    bad_secret = [key for key in secret_keys if not match(ENV_NAME, key)]
    check(not bad_secret, f"secret_env names must match {ENV_NAME}; got {to_json(bad_secret)}.")
    reserved = [key for key in env_keys + secret_keys if key in reserved_env]
    check(not reserved, f"{', '.join(map(to_text, reserved))} are set by the role (see apps_daemon_address_mode, apps_context_missing, "
                        "tracing_name, calls); remove them from env/secret_env.")
    both = [key for key in env_keys if key in secret_keys]
    check(not both, f"{', '.join(map(to_text, both))} appear in both env and secret_env.")
    empty = [key for key, value in secret_env.items() if not value] if isinstance(secret_env, Mapping) else []
    check(not empty, f"secret_env values must not be empty: {', '.join(map(to_text, empty))}.")

    for field in ("ingress_path", "health_path"):
        value = get(field, "/")
        check(isinstance(value, str) and match("^/", value),
              f"{field} must start with /; got {_json(get(field, _MISSING))}.")
    writable = get("writable_paths", [])
    writable_ok = _is_sequence(writable) and all(match("^/", path) for path in writable)
    check(writable_ok, f"writable_paths must be absolute paths; got {_json(get('writable_paths', _MISSING))}.")
    resources = get("resources", _MISSING)
    check(resources is _MISSING or (isinstance(resources, Mapping) and "requests" in resources and "limits" in resources),
          f"resources needs both requests and limits; got {_json(resources)}.")
    uid = get("run_as_user", _MISSING)
    check(uid is _MISSING or (_digits(uid) and int(str(uid)) > 0),
          f"run_as_user must be a non-zero uid (pods run as non-root); got {_json(uid)}.")
    check(isinstance(get("labels", {}), Mapping), "labels must be a mapping.")
    return problems


def apps_problems(services, preset=None, reserved_env=()):
    """Every problem of the service entries (list of messages, empty when they are good)."""
    if not isinstance(services, list):
        raise AnsibleFilterError(f"apps_problems: expects the list of service entries, got {native_type_name(services)}")
    names = [entry.get("name", "") if isinstance(entry, Mapping) else "" for entry in services]
    problems = []
    for index, entry in enumerate(services):
        where = f"apps_services[{index}]" if preset is None else f"preset {preset} entry {index}"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a mapping with name, image and port; got a {native_type_name(entry)}.")
            continue
        problems.extend(_entry_problems(entry, where, names, list(reserved_env or ())))
    return problems


class FilterModule:
    def filters(self):
        return {"apps_problems": apps_problems}
