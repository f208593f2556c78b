"""tracing.xray.daemon_problems: the daemon role's input checks (messages as the Jinja checks gave them, issue 15).

The role ran these checks as ~20 Jinja expressions; the messages below are the ones that version gave for the same
inputs (compared case by case through the role's validate entry point when the filter replaced it)."""

from __future__ import annotations

import pytest

from ansible_collections.tracing.xray.plugins.filter.daemon_problems import daemon_problems

GOOD = {
    "daemon_image_tag": "", "daemon_image": "", "daemon_otlp_enabled": False, "_daemon_flavor_supports_otlp": False,
    "daemon_flavor": "xray", "daemon_otlp_grpc_port": 4317, "daemon_otlp_http_port": 4318, "daemon_port": 2000,
    "daemon_region": "eu-west-1", "daemon_namespace": "xray-system", "daemon_name": "xray-daemon",
    "daemon_config_map_name": "xray-config", "daemon_service_name": "xray-service",
    "daemon_service_account_name": "xray-daemon", "daemon_buffer_size_mb": 0, "daemon_concurrency": 8,
    "daemon_resources": {}, "_daemon_resources": {"requests": {"cpu": "50m", "memory": "32Mi"},
                                                  "limits": {"cpu": "256m", "memory": "64Mi"}},
    "daemon_role_arn": "", "daemon_endpoint": "", "daemon_max_unavailable": 1, "daemon_wait_timeout": 300,
    "daemon_wait_delay": 2, "daemon_env": [{"name": "AWS_EC2_METADATA_DISABLED", "value": "true"}],
}


def test_the_defaults_pass():
    assert daemon_problems(GOOD) == []


@pytest.mark.parametrize("change, message", [
    ({"daemon_image_tag": "-bad"}, "daemon_image_tag must be an image tag (1-128 letters, digits, _ . -, not starting with . or -), "
                                   "or empty for the flavor's pinned tag; got \"-bad\"."),
    ({"daemon_image": "repo:tag"}, "daemon_image must be an image repository without tag or digest (the tag goes in "
                                   "daemon_image_tag), or empty for the flavor's image; got \"repo:tag\"."),
    ({"daemon_otlp_enabled": True}, "daemon_otlp_enabled: the xray flavor has no OTLP receiver (the cloudwatch-agent flavor has)."),
    ({"daemon_otlp_grpc_port": 2000}, "daemon_otlp_grpc_port and daemon_otlp_http_port must be 1-65535 and differ from each "
                                      "other and from daemon_port; got 2000, 4318 (daemon_port 2000)."),
    ({"daemon_region": "mars-1"}, "daemon_region (or xray_region) is required and must be an AWS region such as eu-west-1; "
                                  "got \"mars-1\"."),
    ({"daemon_namespace": "Bad_NS"}, "daemon_namespace must be a DNS-1123 label; got \"Bad_NS\"."),
    ({"daemon_service_account_name": "a.b"}, "daemon_name, daemon_config_map_name, daemon_service_name and "
                                             "daemon_service_account_name must be DNS-1035 labels."),
    ({"daemon_port": "70000"}, "daemon_port must be 1-65535; got 70000."),
    ({"daemon_buffer_size_mb": 2}, "daemon_buffer_size_mb must be 0 (1% of host memory) or at least 3; got 2."),
    ({"daemon_concurrency": 0}, "daemon_concurrency must be at least 1; got 0."),
    ({"_daemon_resources": {"requests": {"cpu": "1"}}, "daemon_resources": {"requests": {"cpu": "1"}}},
     "daemon_resources needs requests.cpu, requests.memory, limits.cpu and limits.memory (or {} for the flavor's); "
     "got {\"requests\": {\"cpu\": \"1\"}}."),
    ({"daemon_role_arn": "arn:aws:iam::123:role/x"}, "daemon_role_arn must be empty or an IAM role ARN "
                                                     "(arn:aws:iam::<account>:role/<name>); got \"arn:aws:iam::123:role/x\"."),
    ({"daemon_endpoint": "ftp://x"}, "daemon_endpoint must be empty or an http(s) URL; got \"ftp://x\"."),
    ({"daemon_max_unavailable": 0}, "daemon_max_unavailable must be at least 1; got 0."),
    ({"daemon_wait_delay": 0}, "daemon_wait_timeout and daemon_wait_delay must be at least 1."),
    ({"daemon_env": "A=b"}, "daemon_env must be a list of Kubernetes EnvVar objects ({name, value} or {name, valueFrom}); "
                            "got a string."),
])
def test_one_bad_input_gives_one_message_naming_it(change, message):
    assert daemon_problems(GOOD | change) == [message]


def test_every_bad_env_entry_is_named_by_position_and_name_never_by_value():
    env = [{"name": "1 bad", "value": "s3cr3t"}, {"value": "x"}, {"name": "B", "value": 5}, {"name": "C", "valueFrom": "x"},
           {"name": "D", "value": "1", "valueFrom": {}}, {"name": "E"}, {"name": "F", "value": "1", "extra": 1},
           {"name": " G", "value": "1"}, {"name": None, "value": "1"}, {"name": "OK", "valueFrom": {"secretKeyRef": {}}}]
    (problem,) = daemon_problems(GOOD | {"daemon_env": env})
    assert problem.endswith('invalid: #1 "1 bad", #2 "(no name)", #3 "B", #4 "C", #5 "D", #6 "E", #7 "F", #8 " G", #9 null.')
    assert "s3cr3t" not in problem


def test_aws_region_and_repeated_names_in_env():
    env = [{"name": "AWS_REGION", "value": "1"}, {"name": "AWS_REGION", "value": "2"}]
    assert daemon_problems(GOOD | {"daemon_env": env}) == [
        "daemon_env may not set AWS_REGION: the role sets it from daemon_region.",
        "daemon_env names must be unique; repeated: AWS_REGION."]


def test_several_problems_come_in_the_order_of_the_checks():
    problems = daemon_problems(GOOD | {"daemon_port": 0, "daemon_concurrency": 0, "daemon_region": "x"})
    assert [p.split(" ")[0] for p in problems] == ["daemon_region", "daemon_port", "daemon_concurrency"]


@pytest.mark.parametrize("key", ["daemon_image", "daemon_role_arn", "daemon_endpoint"])
def test_null_is_not_empty_it_is_refused_before_any_change(key):
    # The Jinja checks failed on null ("no len()"); an empty-string check that let null through would fail later, in
    # the manifest template, after the irsa step changed things.
    (problem,) = daemon_problems(GOOD | {key: None})
    assert problem.startswith(key) and problem.endswith("got null.")


def test_env_names_differing_in_case_are_different_names():
    # Kubernetes env names are case-sensitive. The Jinja check (`unique`, case-insensitive by default) refused FOO
    # and foo with an empty "repeated: ." list.
    env = [{"name": "FOO", "value": "1"}, {"name": "foo", "value": "2"}]
    assert daemon_problems(GOOD | {"daemon_env": env}) == []


def test_a_number_where_env_should_be_a_list_is_named_by_its_plain_type():
    from ansible._internal._datatag._tags import Origin

    tagged = Origin(path="/inventory/group_vars/all.yml").tag(5)  # what a value read from YAML is in ansible-core 2.19
    assert type(tagged).__name__ != "int"
    (problem,) = daemon_problems(GOOD | {"daemon_env": tagged})
    assert problem.endswith("got a int.")
