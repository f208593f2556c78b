"""The daemon role's own logic without an API server: ``ansible-playbook`` on localhost includes the role
(``tasks_from: validate.yml``, ``public: true``, so its defaults and vars/main.yml are what is tested) and evaluates
the role's expressions with canned objects given as task vars, which take precedence over the role's vars:

- the rollout wait (tasks/wait.yml): which pods end the wait early (``pod_problems`` with the DaemonSet's template
  generation, as in the wait's ``until``; the lookup itself runs in test_daemon_wait_api.py), ``_daemon_rolled_out``,
  the log reads (``_daemon_log_requests``) and the failure message ``_daemon_wait_failure_msg``;
- ``daemon_env``: the pre-check's messages (tasks/validate.yml) and where the entries land in the DaemonSet
  (templates/manifests.yml.j2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import daemon_pods as pods
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
NODES = ["node-a", "node-b", "node-c", "node-d", "node-e", "node-x"]
CRASH_LOG = ["2025-01-01T00:00:00Z [Info] Initializing AWS X-Ray daemon 3.6.6", "2025-01-01T00:00:00Z [Error] open /aws/xray/cfg.yaml: no such file", ""]

HEADER = """
- name: The daemon role's logic on canned objects
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    results: {}
  tasks:
"""

INCLUDE_ROLE = """
    - name: Load the role's defaults and vars (and run its pre-check)
      ansible.builtin.include_role:
        name: tracing.xray.daemon
        tasks_from: validate.yml
        public: true
"""

WRITE_RESULTS = """
    - name: Write the results
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ results | to_json }}"
        mode: "0600"
"""


def run_playbook(tmp_path, text, extra=None):
    (tmp_path / "play.yml").write_text(HEADER + text + WRITE_RESULTS, encoding="utf-8")
    out = tmp_path / "out.json"
    # No cluster here: the pre-check's read of the cluster (the collector clash check) is off.
    extra = dict(extra or {}, out=str(out), daemon_clash_check=False)
    (tmp_path / "extra.json").write_text(json.dumps(extra), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([PLAYBOOK_BIN, "-i", "localhost,", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'extra.json'}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def daemon_set(ready, desired=5):
    status = {"observedGeneration": pods.GENERATION, "desiredNumberScheduled": desired, "updatedNumberScheduled": desired,
              "numberReady": ready, "numberAvailable": ready}
    return {"resources": [{"metadata": {"name": "xray-daemon", "namespace": pods.NAMESPACE, "generation": pods.GENERATION}, "status": status}]}


# --- rollout wait ---------------------------------------------------------------------------------------------

WAIT_TASK = """
    - name: Evaluate the wait's expressions for each scenario
      ansible.builtin.set_fact:
        results: >-
          {{ results | combine({item.name: {
               'definite': _daemon_problems | selectattr('definite') | map(attribute='pod') | list,
               'pod_query': _daemon_pod_query,
               'rolled_out': _daemon_rolled_out,
               'log_reads': _daemon_log_requests | map(attribute='0.pod') | zip(_daemon_log_requests | map(attribute='1.previous')) | list,
               'msg': _daemon_wait_failure_msg}}) }}
      loop: "{{ scenarios }}"
      loop_control:
        label: "{{ item.name }}"
      vars:
        _daemon_ds: "{{ item.ds }}"
        _daemon_pods: {resources: "{{ item.pods }}"}
        _daemon_nodes: {resources: "{{ item.nodes }}"}
        _daemon_logs: {results: "{{ item.logs }}"}
        _daemon_deadline: "{{ item.deadline }}"
        ansible_failed_result: {msg: not rolled out}
"""


@pytest.fixture(scope="module")
def wait_results(tmp_path_factory):
    crash_problem = {"pod": "xray-daemon-crash", "node": "node-a"}
    scenarios = [
        {
            "name": "five",
            "ds": daemon_set(ready=1),
            "pods": pods.the_five(),
            "nodes": NODES,
            # What k8s_log returned for _daemon_log_requests: the crashed container's log; an unreadable one.
            "logs": [
                {"item": [crash_problem, {"previous": True, "label": "previous container, exit code 1"}], "log_lines": CRASH_LOG, "changed": False},
                {"item": [{"pod": "xray-daemon-new", "node": "node-e"}, {"previous": False, "label": "current container"}], "failed": True,
                 "msg": "Unable to retrieve log from Pod due to: container \"xray-daemon\" in pod \"xray-daemon-new\" is waiting to start\n"},
            ],
            # Ten seconds into a 300 s wait: the wait stopped early.
            "deadline": time.time() + 290,
        },
        {
            "name": "starting",
            "ds": daemon_set(ready=1, desired=4),
            "pods": [pods.running_ready(), pods.container_creating(), pods.restarted_once(), pods.crash_loop(restarts=1),
                     pods.crash_loop(name="xray-daemon-old", node="node-x", restarts=7, generation=pods.GENERATION - 1)],
            "nodes": ["node-a", "node-d", "node-e", "node-f"],
            "logs": [],
            "deadline": time.time() - 1,
        },
        {
            "name": "rolled_out",
            "ds": daemon_set(ready=1, desired=1),
            "pods": [pods.running_ready()],
            "nodes": ["node-d"],
            "logs": [],
            "deadline": time.time() + 100,
        },
    ]
    for scenario in scenarios:
        scenario["nodes"] = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}} for name in scenario["nodes"]]
    return run_playbook(tmp_path_factory.mktemp("wait"), INCLUDE_ROLE + WAIT_TASK,
                        {"daemon_region": "eu-west-1", "daemon_namespace": pods.NAMESPACE, "scenarios": scenarios})


def test_definite_failures_end_the_wait(wait_results):
    five = wait_results["five"]
    assert five["definite"] == ["xray-daemon-crash", "xray-daemon-pull", "xray-daemon-pending"]
    assert five["rolled_out"] is False
    # Starting pods, a pod restarted once, a crash loop at its first restart, and an old template's pod: keep waiting.
    assert wait_results["starting"]["definite"] == []
    assert wait_results["rolled_out"]["rolled_out"] is True and wait_results["rolled_out"]["definite"] == []
    assert five["pod_query"] == {
        "kind": "Pod", "namespace": pods.NAMESPACE, "errors": "ignore", "kubeconfig": None, "context": None,
        "label_selector": "app.kubernetes.io/name=aws-xray-daemon,app.kubernetes.io/instance=xray-daemon"}


def test_logs_are_read_for_the_failed_pods_first(wait_results):
    assert [tuple(x) for x in wait_results["five"]["log_reads"]] == [("xray-daemon-crash", True)]
    # Failed pods first (running again after a restart: current and previous container), then the others, at most 3 pods.
    assert [tuple(x) for x in wait_results["starting"]["log_reads"]] == [
        ("xray-daemon-again", False), ("xray-daemon-again", True), ("xray-daemon-crash", True), ("xray-daemon-old", True)]


def test_failure_message(wait_results):
    msg = wait_results["five"]["msg"]
    head, *log_lines = msg.split("\n")
    assert head.startswith(
        "tracing.xray.daemon: DaemonSet xray-system/xray-daemon did not become ready within 300s "
        "(desired=5, updated=5, ready=1, available=1); it failed after "
    )
    assert "s instead of waiting the full timeout because a daemon pod failed in a way that waiting does not fix. Nodes without a ready daemon pod: " in head
    assert (
        "node-a (pod xray-daemon-crash is Running: CrashLoopBackOff (exit code 1, 3 restarts): " + pods.BACKOFF_MESSAGE + "), "
        'node-b (pod xray-daemon-pull is Pending: ImagePullBackOff: Back-off pulling image "public.ecr.aws/xray/aws-xray-daemon:9.9.9"), '
        "node-c (pod xray-daemon-pending is Pending: Unschedulable: " + pods.UNSCHEDULABLE_MESSAGE + "), "
        "node-e (pod xray-daemon-new is Pending: containers with unready status: [xray-daemon]; ContainerCreating), "
        "node-x (no pod). Nodes whose taints the DaemonSet does not tolerate are not counted as desired (see daemon_tolerations)."
    ) in head
    assert "node-d" not in head, "a node with a ready pod is not listed"
    assert log_lines == [
        "Last log lines of pod xray-daemon-crash on node-a (previous container, exit code 1):",
        "    " + CRASH_LOG[0],
        "    " + CRASH_LOG[1],
        'Last log lines of pod xray-daemon-new on node-e (current container): not readable (Unable to retrieve log from Pod due to: '
        'container "xray-daemon" in pod "xray-daemon-new" is waiting to start)',
    ]


def test_failure_message_at_the_deadline(wait_results):
    msg = wait_results["starting"]["msg"]
    assert "did not become ready within 300s (desired=4, updated=4, ready=1, available=1). Nodes without" in msg
    assert "stopped after" not in msg
    assert "node-f (pod xray-daemon-again is Running: Restarted (exit code 2, 1 restart))" in msg
    assert "node-a (pod xray-daemon-crash is Running: CrashLoopBackOff (exit code 1, 1 restart): " in msg


# --- daemon_env ------------------------------------------------------------------------------------------------

SECRET_REF = {"secretKeyRef": {"name": "xray-daemon-aws", "key": "access_key_id"}}
GOOD_ENV = [
    {"name": "AWS_ACCESS_KEY_ID", "valueFrom": SECRET_REF},
    {"name": "AWS_EC2_METADATA_DISABLED", "value": "true"},
    {"name": "https_proxy", "value": "http://proxy.example.internal:3128"},
    {"name": "_x.y-z", "value": ""},
]
ENV_CASES = {
    "good": GOOD_ENV,
    "not_a_list": "AWS_EC2_METADATA_DISABLED=true",
    "a_dict": {"AWS_EC2_METADATA_DISABLED": "true"},
    "bad_entries": [
        {"name": "OK", "value": "1"},
        {"name": "1ABC", "value": "x"},
        {"name": "A B", "value": "x"},
        {"value": "x"},
        {"name": "BOTH", "value": "x", "valueFrom": SECRET_REF},
        {"name": "NEITHER"},
        {"name": "NUMBER", "value": 1},
        {"name": "REF", "valueFrom": "xray-daemon-aws"},
        {"name": "EXTRA", "value": "x", "secretKeyRef": {}},
        "PLAIN=string",
    ],
    "region": [{"name": "AWS_REGION", "value": "us-east-1"}],
    "duplicate": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "A", "value": "3"}],
}


def _env_case(name):
    return f"""
    - name: Pre-check with daemon_env {name}
      block:
        - name: The role's pre-check
          ansible.builtin.include_role:
            name: tracing.xray.daemon
            tasks_from: validate.yml
            public: true
          vars:
            daemon_env: "{{{{ cases['{name}'] }}}}"
        - name: Record success and the container's env of the rendered DaemonSet
          ansible.builtin.set_fact:
            results: >-
              {{{{ results | combine({{'{name}': {{'ok': true, 'env': (lookup('ansible.builtin.template', template)
                   | ansible.builtin.from_yaml_all | selectattr('kind', 'eq', 'DaemonSet') | first).spec.template.spec.containers[0].env}}}}) }}}}
          vars:
            daemon_env: "{{{{ cases['{name}'] }}}}"
            _daemon_config_text: "Version: 2"
            _daemon_create_namespace_now: false
      rescue:
        - name: Record the failure
          ansible.builtin.set_fact:
            results: "{{{{ results | combine({{'{name}': {{'ok': false, 'msg': ansible_failed_result.msg}}}}) }}}}"
"""


@pytest.fixture(scope="module")
def env_results(tmp_path_factory):
    text = "".join(_env_case(name) for name in ENV_CASES)
    return run_playbook(tmp_path_factory.mktemp("env"), text, {
        "daemon_region": "eu-west-1",
        "cases": ENV_CASES,
        "template": os.path.join(REPO, "roles", "daemon", "templates", "manifests.yml.j2"),
    })


def test_daemon_env_is_appended_after_aws_region(env_results):
    good = env_results["good"]
    assert good["ok"], good
    assert good["env"] == [{"name": "AWS_REGION", "value": "eu-west-1"}] + GOOD_ENV


@pytest.mark.parametrize("case, kind", [("not_a_list", "string"), ("a_dict", "dict")])
def test_daemon_env_must_be_a_list(env_results, case, kind):
    result = env_results[case]
    assert not result["ok"]
    assert result["msg"] == ("tracing.xray.daemon: daemon_env must be a list of Kubernetes EnvVar objects ({name, value} or "
                             f"{{name, valueFrom}}); got a {kind}.")
    assert "true" not in result["msg"], "values are never echoed (they may be secrets)"


def test_daemon_env_entries_are_checked_one_by_one(env_results):
    result = env_results["bad_entries"]
    assert not result["ok"]
    msg = result["msg"]
    assert msg.startswith("tracing.xray.daemon: daemon_env entries need a name matching ^[-._a-zA-Z][-._a-zA-Z0-9]*$ and exactly one of value")
    assert msg.endswith(
        'invalid: #2 "1ABC", #3 "A B", #4 "(no name)", #5 "BOTH", #6 "NEITHER", #7 "NUMBER", #8 "REF", #9 "EXTRA", #10 "(not a dict)".'
    )
    assert "#1 " not in msg and "xray-daemon-aws" not in msg


def test_daemon_env_may_not_set_aws_region(env_results):
    assert env_results["region"] == {
        "ok": False, "msg": "tracing.xray.daemon: daemon_env may not set AWS_REGION: the role sets it from daemon_region."}


def test_daemon_env_names_are_unique(env_results):
    assert env_results["duplicate"] == {"ok": False, "msg": "tracing.xray.daemon: daemon_env names must be unique; repeated: A."}


def test_defaults_document_daemon_env():
    with open(os.path.join(REPO, "roles", "daemon", "defaults", "main.yml"), encoding="utf-8") as f:
        assert yaml.safe_load(f)["daemon_env"] == []
    with open(os.path.join(REPO, "roles", "daemon", "meta", "argument_specs.yml"), encoding="utf-8") as f:
        spec = yaml.safe_load(f)["argument_specs"]["main"]["options"]["daemon_env"]
    assert (spec["type"], spec["elements"], spec["default"]) == ("list", "dict", [])
