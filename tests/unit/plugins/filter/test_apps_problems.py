"""tracing.xray.apps_problems: the per-entry checks of the apps role (messages as the Jinja checks gave them, issue 15).

The role ran these checks as ~20 Jinja expressions per entry; the expected messages below are the ones that version
gave for the same entries (compared case by case when the filter replaced it)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.tracing.xray.plugins.filter.apps_problems import apps_problems

IMG = "public.ecr.aws/x/app:1.0"
RESERVED = ["AWS_XRAY_TRACING_NAME", "AWS_XRAY_DAEMON_ADDRESS", "DOWNSTREAM_URLS"]


def _svc(name="a", **more):
    return {"name": name, "image": IMG, "port": 80, **more}


def test_good_entries_and_the_shipped_shapes_pass():
    services = [_svc("front", calls=["back"], env={"LOG_LEVEL": "info"}, secret_env={"DB_PASSWORD": "s"},
                     service_port=8080, replicas=0, service_type="NodePort", ingress_path="/", health_path="/health",
                     writable_paths=["/tmp"], resources={"requests": {}, "limits": {}}, run_as_user=1000,
                     labels={"team": "x"}),
                _svc("back", image="repo@sha256:" + "a" * 64, port="8080")]
    assert apps_problems(services, reserved_env=RESERVED) == []


@pytest.mark.parametrize("entry, expected", [
    (_svc("Bad_Name"), "apps_services[0]: name must be a DNS-1035 label (lowercase letters, digits and '-', at most 63);"
                       ' got "Bad_Name".'),
    (_svc(image="repo"), 'apps_services[0]: image must be pinned with a tag or a digest (repository:tag such as '
                         'public.ecr.aws/org/app:1.2.3, or repository@sha256:<64 hex>), without spaces; got "repo".'),
    (_svc(image="repo:"), 'without spaces; got "repo:".'),
    (_svc(port=0), "apps_services[0]: port must be an integer 1-65535; got 0."),
    (_svc(port=True), "apps_services[0]: port must be an integer 1-65535; got true."),
    (_svc(service_port=70000), "apps_services[0]: service_port must be an integer 1-65535; got 70000."),
    (_svc(replicas=-1), "apps_services[0]: replicas must be an integer >= 0; got -1."),
    (_svc(service_type=None), "apps_services[0]: service_type must be ClusterIP, NodePort or LoadBalancer; got null."),
    (_svc(calls="b"), 'apps_services[0]: calls must name other services of the list (a); got "b".'),
    (_svc(calls=["a"]), 'apps_services[0]: calls must name other services of the list (a); got ["a"].'),
    (_svc(env={"1BAD": "x"}), 'apps_services[0]: env names must match ^[A-Za-z_][A-Za-z0-9_]*$; got ["1BAD"].'),
    (_svc(env=["X"]), 'apps_services[0]: env names must match ^[A-Za-z_][A-Za-z0-9_]*$; got ["<env must be a mapping>"].'),
    (_svc(ingress_path="x"), 'apps_services[0]: ingress_path must start with /; got "x".'),
    (_svc(health_path=5), "apps_services[0]: health_path must start with /; got 5."),
    (_svc(writable_paths=["/tmp", "rel"]), 'apps_services[0]: writable_paths must be absolute paths; got ["/tmp", "rel"].'),
    (_svc(writable_paths=None), "apps_services[0]: writable_paths must be absolute paths; got null."),
    (_svc(resources={"requests": {}}), 'apps_services[0]: resources needs both requests and limits; got {"requests": {}}.'),
    (_svc(run_as_user=0), "apps_services[0]: run_as_user must be a non-zero uid (pods run as non-root); got 0."),
    (_svc(labels=[]), "apps_services[0]: labels must be a mapping."),
])
def test_one_bad_field_gives_one_message_naming_entry_field_and_value(entry, expected):
    (problem,) = apps_problems([entry], reserved_env=RESERVED)
    assert problem.startswith("apps_services[0]: ") and problem.endswith(expected), problem


def test_secret_env_names_are_checked_and_values_never_shown():
    entry = _svc(env={"S": "1"}, secret_env={"S": "hunter2", "E": "", "bad-name": "pw-value", "DOWNSTREAM_URLS": "q"})
    problems = apps_problems([entry], reserved_env=RESERVED)
    assert problems == [
        'apps_services[0]: secret_env names must match ^[A-Za-z_][A-Za-z0-9_]*$; got ["bad-name"].',
        "apps_services[0]: DOWNSTREAM_URLS are set by the role (see apps_daemon_address_mode, apps_context_missing, "
        "tracing_name, calls); remove them from env/secret_env.",
        "apps_services[0]: S appear in both env and secret_env.",
        "apps_services[0]: secret_env values must not be empty: E.",
    ]
    assert not any(secret in " ".join(problems) for secret in ("hunter2", "pw-value"))


def test_a_secret_env_that_is_not_a_mapping_is_a_message_not_a_crash():
    (problem,) = apps_problems([_svc(secret_env=["X=1"])], reserved_env=RESERVED)
    assert problem == 'apps_services[0]: secret_env names must match ^[A-Za-z_][A-Za-z0-9_]*$; got ["<secret_env must be a mapping>"].'


def test_every_entry_is_checked_and_preset_entries_are_named_by_preset():
    problems = apps_problems([_svc("a", calls=["zz"]), _svc("b", port=0)], preset="sample", reserved_env=RESERVED)
    assert problems == ['preset sample entry 0: calls must name other services of the list (a, b); got ["zz"].',
                        "preset sample entry 1: port must be an integer 1-65535; got 0."]


def test_several_problems_of_one_entry_are_all_reported_in_order():
    assert apps_problems([{"name": 5, "image": 7, "port": 80}]) == [
        "apps_services[0]: name must be a DNS-1035 label (lowercase letters, digits and '-', at most 63); got 5.",
        "apps_services[0]: image is required."]


def test_an_entry_that_is_not_a_mapping_and_input_that_is_not_a_list():
    from ansible._internal._datatag._tags import Origin

    assert apps_problems([Origin(path="/vars.yml").tag("web")]) == [
        "apps_services[0]: must be a mapping with name, image and port; got a str."]
    with pytest.raises(AnsibleFilterError, match="expects the list of service entries"):
        apps_problems({"name": "a"})


def test_keys_that_are_not_strings_are_shown_not_crashed_on():
    problems = apps_problems([_svc(env={1: "a"}, secret_env={1: ""})], reserved_env=RESERVED)
    assert "apps_services[0]: 1 appear in both env and secret_env." in problems
    assert "apps_services[0]: secret_env values must not be empty: 1." in problems
