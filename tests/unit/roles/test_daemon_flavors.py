"""The daemon role's collector flavors without an API server: the objects each flavor renders (the role's own
present-path expressions: the flavor's config template, templates/manifests.yml.j2 and the flavor's pod part), the
CloudWatch agent's JSON configuration parsed and checked against the keys the agent documents, and the pre-checks
that refuse a flavor the role does not have and OTLP with the X-Ray daemon.

The agent image cannot be pulled or run here, so its configuration is checked against the documented keys
(CloudWatch agent configuration file, ``traces`` and ``agent`` sections; the agent's schema
``translator/config/schema.json`` and its sample ``validTrace.json``), not by the agent itself.
"""

from __future__ import annotations

import json
import os

import pytest
from test_daemon_role import run_playbook

# The keys the CloudWatch agent documents for the sections the role writes.
AGENT_KEYS = {"metrics_collection_interval", "logfile", "region", "debug", "aws_sdk_log_level", "credentials", "omit_hostname"}
TRACES_KEYS = {"traces_collected", "concurrency", "buffer_size_mb", "resource_arn", "local_mode", "insecure", "credentials",
               "endpoint_override", "region_override", "proxy_override"}
TRACES_COLLECTED_KEYS = {"xray", "otlp"}
XRAY_KEYS = {"bind_address", "tcp_proxy"}
TCP_PROXY_KEYS = {"bind_address"}
OTLP_KEYS = {"grpc_endpoint", "http_endpoint", "tls"}

RENDER = """
    - name: Render case {name}
      vars: {case_vars}
      block:
        - name: The role's pre-check (loads the flavor's vars)
          ansible.builtin.include_role:
            name: tracing.xray.daemon
            tasks_from: validate.yml
            public: true
        - name: Record the objects as present.yml renders them
          ansible.builtin.set_fact:
            results: >-
              {{{{ results | combine({{'{name}': {{'ok': true, 'objects': lookup('ansible.builtin.template', role_dir ~ '/templates/manifests.yml.j2')
                   | ansible.builtin.from_yaml_all | list}}}}) }}}}
          vars:
            _daemon_create_namespace_now: false
            _daemon_config_text: "{{{{ lookup('ansible.builtin.template', role_dir ~ '/templates/' ~ _daemon_flavor_config_template) }}}}"
      rescue:
        - name: Record the failure
          ansible.builtin.set_fact:
            results: "{{{{ results | combine({{'{name}': {{'ok': false, 'msg': ansible_failed_result.msg}}}}) }}}}"
"""

CASES = {
    "xray": {"daemon_flavor": "xray"},
    "agent": {"daemon_flavor": "cloudwatch-agent"},
    "agent_full": {"daemon_flavor": "cloudwatch-agent", "daemon_otlp_enabled": True, "daemon_port": 2345,
                   "daemon_role_arn": "arn:aws:iam::123456789012:role/xray-cross-account", "daemon_endpoint": "https://xray.vpce.example",
                   "daemon_local_mode": True, "daemon_log_level": "debug", "daemon_buffer_size_mb": 0,
                   "daemon_env": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]},
    "from_inventory": {"xray_collector_flavor": "cloudwatch-agent"},
    "unknown": {"daemon_flavor": "adot"},
    "otlp_on_xray": {"daemon_flavor": "xray", "daemon_otlp_enabled": True},
    "otlp_port_clash": {"daemon_flavor": "cloudwatch-agent", "daemon_otlp_enabled": True, "daemon_otlp_grpc_port": 2000},
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    text = "".join(RENDER.format(name=name, case_vars=json.dumps(case)) for name, case in CASES.items())
    return run_playbook(tmp_path_factory.mktemp("flavors"), text, {
        "daemon_region": "eu-west-1", "role_dir": os.path.join(repo, "roles", "daemon")})


def objects(result):
    assert result["ok"], result
    return {o["kind"]: o for o in result["objects"]}


def agent_config(result):
    cm = objects(result)["ConfigMap"]
    assert list(cm["data"]) == ["cwagentconfig.json"]
    return json.loads(cm["data"]["cwagentconfig.json"])


def check_documented(config):
    assert set(config) <= {"agent", "metrics", "logs", "traces"}
    assert set(config["agent"]) <= AGENT_KEYS
    traces = config["traces"]
    assert set(traces) <= TRACES_KEYS
    assert set(traces["traces_collected"]) <= TRACES_COLLECTED_KEYS
    assert set(traces["traces_collected"]["xray"]) <= XRAY_KEYS
    assert set(traces["traces_collected"]["xray"]["tcp_proxy"]) <= TCP_PROXY_KEYS
    assert set(traces["traces_collected"].get("otlp", {})) <= OTLP_KEYS
    assert set(traces.get("credentials", {})) <= {"role_arn"}


def test_xray_flavor_keeps_the_daemon(rendered):
    objs = objects(rendered["xray"])
    assert list(objs["ConfigMap"]["data"]) == ["cfg.yaml"]
    container = objs["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "xray-daemon" and container["image"] == "public.ecr.aws/xray/aws-xray-daemon:3.6.6"


def test_agent_default_config_is_documented_and_listens_on_all_interfaces(rendered):
    config = agent_config(rendered["agent"])
    check_documented(config)
    assert config["agent"] == {"region": "eu-west-1", "debug": False}
    xray = config["traces"]["traces_collected"]["xray"]
    assert xray == {"bind_address": "0.0.0.0:2000", "tcp_proxy": {"bind_address": "0.0.0.0:2000"}}
    assert "otlp" not in config["traces"]["traces_collected"]
    assert config["traces"]["region_override"] == "eu-west-1"
    assert (config["traces"]["buffer_size_mb"], config["traces"]["concurrency"]) == (24, 8)


def test_agent_options_map_to_documented_keys(rendered):
    config = agent_config(rendered["agent_full"])
    check_documented(config)
    traces = config["traces"]
    assert traces["traces_collected"]["otlp"] == {"grpc_endpoint": "0.0.0.0:4317", "http_endpoint": "0.0.0.0:4318"}
    assert traces["traces_collected"]["xray"]["bind_address"] == "0.0.0.0:2345"
    assert traces["credentials"] == {"role_arn": "arn:aws:iam::123456789012:role/xray-cross-account"}
    assert traces["endpoint_override"] == "https://xray.vpce.example" and traces["local_mode"] is True
    assert "buffer_size_mb" not in traces, "0 means the agent's own default"
    assert config["agent"]["debug"] is True


def test_agent_daemonset_and_service_keep_the_contract(rendered):
    xray, agent = objects(rendered["xray"]), objects(rendered["agent_full"])
    # same names and selectors as the xray flavor: a switch is a rolling update, the Service keeps working
    for kind in ("DaemonSet", "Service", "ConfigMap"):
        assert agent[kind]["metadata"]["name"] == xray[kind]["metadata"]["name"]
    assert agent["DaemonSet"]["spec"]["selector"] == xray["DaemonSet"]["spec"]["selector"]
    assert agent["Service"]["spec"]["selector"] == xray["Service"]["spec"]["selector"]
    pod = agent["DaemonSet"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304"
    assert "command" not in container and "args" not in container
    assert {(p["name"], p["protocol"], p.get("hostPort")) for p in container["ports"]} == {
        ("xray-udp", "UDP", 2345), ("xray-tcp", "TCP", 2345), ("otlp-grpc", "TCP", 4317), ("otlp-http", "TCP", 4318)}
    assert container["volumeMounts"] == [{"name": "config", "mountPath": "/etc/cwagentconfig", "readOnly": True}]
    assert container["readinessProbe"]["tcpSocket"]["port"] == 2345
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["env"][0] == {"name": "AWS_REGION", "value": "eu-west-1"}
    assert container["env"][-1] == {"name": "HTTPS_PROXY", "value": "http://proxy:3128"}
    assert container["resources"]["limits"]["memory"] == "256Mi"
    assert {p["name"] for p in agent["Service"]["spec"]["ports"]} == {"xray-udp", "xray-tcp", "otlp-grpc", "otlp-http"}
    assert pod["metadata"]["annotations"]["tracing.xray/config-checksum"] != (
        xray["DaemonSet"]["spec"]["template"]["metadata"]["annotations"]["tracing.xray/config-checksum"])


def test_inventory_flavor_is_the_default(rendered):
    assert objects(rendered["from_inventory"])["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]["name"] == "cloudwatch-agent"


def test_unknown_flavor_and_misplaced_otlp_are_refused(rendered):
    assert not rendered["unknown"]["ok"]
    assert "daemon_flavor (or xray_collector_flavor) must be one of cloudwatch-agent, xray" in rendered["unknown"]["msg"]
    assert not rendered["otlp_on_xray"]["ok"]
    assert "daemon_otlp_enabled: the xray flavor has no OTLP receiver" in rendered["otlp_on_xray"]["msg"]
    assert not rendered["otlp_port_clash"]["ok"]
    assert "differ from each other and from daemon_port" in rendered["otlp_port_clash"]["msg"]
