# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: daemon_problems
short_description: Input problems of the tracing.xray.daemon role, checked before its first change
version_added: 0.2.0
author: tracing.xray maintainers (@tracing-xray)
description:
  - Takes the variables of a play (C(vars)) and returns a list of messages, one per problem with the daemon role's
    inputs (empty when all is well). Each message names the variable and what is allowed.
  - Checks C(daemon_image_tag), C(daemon_image), the OTLP switch and ports against the flavor, C(daemon_region),
    C(daemon_namespace), the object names, C(daemon_port), C(daemon_buffer_size_mb), C(daemon_concurrency), the
    resources (C(daemon_resources) or the flavor's), C(daemon_role_arn), C(daemon_endpoint),
    C(daemon_max_unavailable), the wait settings and every C(daemon_env) entry (a Kubernetes EnvVar; not C(AWS_REGION);
    unique names). The values of C(daemon_env) never appear in a message, only entry positions and names.
  - The role runs it after loading the flavor's values (C(_daemon_resources), C(_daemon_flavor_supports_otlp)).
options:
  _input:
    description: The play's variables (C(vars)); only the ones named above are read.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the daemon inputs before any change
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "tracing.xray.daemon: {{ problems | join(' ') }}"
  vars:
    problems: "{{ vars | tracing.xray.daemon_problems }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the inputs are good.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.datatag import native_type_name
from ansible.plugins.filter.core import to_bool
from ansible.plugins.filter.core import to_json

from ansible_collections.tracing.xray.plugins.plugin_utils.checks import DNS1035_LABEL
from ansible_collections.tracing.xray.plugins.plugin_utils.checks import DNS1123_LABEL
from ansible_collections.tracing.xray.plugins.plugin_utils.checks import REGION
from ansible_collections.tracing.xray.plugins.plugin_utils.checks import jinja_int
from ansible_collections.tracing.xray.plugins.plugin_utils.checks import match

IMAGE_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
IMAGE_REPOSITORY = r"^[^\s:@]+(:[0-9]+/[^\s:@]+)?$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+"
URL = r"^https?://[^\s]+$"
ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
ENV_KEYS = ("name", "value", "valueFrom")
OBJECT_NAMES = ("daemon_name", "daemon_config_map_name", "daemon_service_name", "daemon_service_account_name")


def _empty(value):
    """An empty string; null is not empty (it fails the check with "got null", before any change)."""
    return isinstance(value, str) and len(value) == 0


def _env_entry_ok(entry):
    if not isinstance(entry, Mapping):
        return False
    name = entry.get("name")
    has_value, has_value_from = "value" in entry, "valueFrom" in entry
    return (isinstance(name, str) and match(ENV_NAME, name) and name == name.strip() and has_value != has_value_from
            and (not has_value or isinstance(entry["value"], str))
            and (not has_value_from or isinstance(entry["valueFrom"], Mapping))
            and not set(entry) - set(ENV_KEYS))


def _env_label(position, entry):
    name = (entry["name"] if "name" in entry else "(no name)") if isinstance(entry, Mapping) else "(not a dict)"
    return f"#{position} {to_json(name)}"


def _env_problems(env):
    is_list = isinstance(env, (list, tuple))
    problems = []
    if not is_list:
        kind = "dict" if isinstance(env, Mapping) else "string" if isinstance(env, str) else native_type_name(env)
        problems.append("daemon_env must be a list of Kubernetes EnvVar objects ({name, value} or {name, valueFrom}); "
                        f"got a {kind}.")
    entries = list(env) if is_list else []
    invalid = [_env_label(position, entry) for position, entry in enumerate(entries, start=1) if not _env_entry_ok(entry)]
    if invalid:
        problems.append("daemon_env entries need a name matching ^[-._a-zA-Z][-._a-zA-Z0-9]*$ and exactly one of value (a "
                        "string: quote numbers and booleans) or valueFrom (a dict), and no other key; invalid: "
                        f"{', '.join(invalid)}.")
    names = [entry.get("name", "") for entry in entries if isinstance(entry, Mapping)]
    if "AWS_REGION" in names:
        problems.append("daemon_env may not set AWS_REGION: the role sets it from daemon_region.")
    seen, dupes = [], []
    for name in names:
        if name in seen and name not in dupes:
            dupes.append(name)
        seen.append(name)
    if dupes:
        problems.append(f"daemon_env names must be unique; repeated: {', '.join(map(to_text, dupes))}.")
    return problems


def _resources_ok(resources):
    resources = resources if isinstance(resources, Mapping) else {}
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    return (isinstance(requests, Mapping) and isinstance(limits, Mapping) and "cpu" in requests and "memory" in requests
            and "cpu" in limits and "memory" in limits)


def daemon_problems(variables):
    """Every problem of the daemon role's inputs (list of messages, empty when they are good)."""
    get = variables.get
    tag, image, port = get("daemon_image_tag"), get("daemon_image"), get("daemon_port")
    grpc, http = get("daemon_otlp_grpc_port"), get("daemon_otlp_http_port")
    checks = [
        (len(to_text(tag)) == 0 or match(IMAGE_TAG, to_text(tag)),
         "daemon_image_tag must be an image tag (1-128 letters, digits, _ . -, not starting with . or -), or empty for the "
         f"flavor's pinned tag; got {to_json(tag)}."),
        (_empty(image) or (isinstance(image, str) and match(IMAGE_REPOSITORY, image)),
         "daemon_image must be an image repository without tag or digest (the tag goes in daemon_image_tag), or empty for "
         f"the flavor's image; got {to_json(image)}."),
        (not to_bool(get("daemon_otlp_enabled")) or to_bool(get("_daemon_flavor_supports_otlp")),
         f"daemon_otlp_enabled: the {to_text(get('daemon_flavor'))} flavor has no OTLP receiver (the cloudwatch-agent flavor has)."),
        (all(1 <= jinja_int(p) <= 65535 for p in (grpc, http)) and len({jinja_int(port), jinja_int(grpc), jinja_int(http)}) == 3,
         "daemon_otlp_grpc_port and daemon_otlp_http_port must be 1-65535 and differ from each other and from daemon_port; "
         f"got {to_text(grpc)}, {to_text(http)} (daemon_port {to_text(port)})."),
        (match(REGION, get("daemon_region")),
         f"daemon_region (or xray_region) is required and must be an AWS region such as eu-west-1; got {to_json(get('daemon_region'))}."),
        (match(DNS1123_LABEL, get("daemon_namespace")),
         f"daemon_namespace must be a DNS-1123 label; got {to_json(get('daemon_namespace'))}."),
        (all(match(DNS1035_LABEL, get(name)) for name in OBJECT_NAMES),
         "daemon_name, daemon_config_map_name, daemon_service_name and daemon_service_account_name must be DNS-1035 labels."),
        (1 <= jinja_int(port) <= 65535, f"daemon_port must be 1-65535; got {to_text(port)}."),
        (jinja_int(get("daemon_buffer_size_mb")) == 0 or jinja_int(get("daemon_buffer_size_mb")) >= 3,
         f"daemon_buffer_size_mb must be 0 (1% of host memory) or at least 3; got {to_text(get('daemon_buffer_size_mb'))}."),
        (jinja_int(get("daemon_concurrency")) >= 1, f"daemon_concurrency must be at least 1; got {to_text(get('daemon_concurrency'))}."),
        (_resources_ok(get("_daemon_resources")),
         "daemon_resources needs requests.cpu, requests.memory, limits.cpu and limits.memory (or {} for the flavor's); "
         f"got {to_json(get('daemon_resources'))}."),
        (_empty(get("daemon_role_arn")) or match(ROLE_ARN, get("daemon_role_arn")),
         f"daemon_role_arn must be empty or an IAM role ARN (arn:aws:iam::<account>:role/<name>); got {to_json(get('daemon_role_arn'))}."),
        (_empty(get("daemon_endpoint")) or match(URL, get("daemon_endpoint")),
         f"daemon_endpoint must be empty or an http(s) URL; got {to_json(get('daemon_endpoint'))}."),
        (jinja_int(get("daemon_max_unavailable")) >= 1,
         f"daemon_max_unavailable must be at least 1; got {to_text(get('daemon_max_unavailable'))}."),
        (jinja_int(get("daemon_wait_timeout")) >= 1 and jinja_int(get("daemon_wait_delay")) >= 1,
         "daemon_wait_timeout and daemon_wait_delay must be at least 1."),
    ]
    return [message for ok, message in checks if not ok] + _env_problems(get("daemon_env", []))


class FilterModule:
    def filters(self):
        return {"daemon_problems": daemon_problems}
