"""plugins/filter/pod_problems.py: which daemon pods are failing, which failures end the rollout wait early, and
the one-line summary the daemon role puts into its failure message."""

from __future__ import annotations

import copy

import daemon_pods as pods
import pytest

from ansible_collections.tracing.xray.plugins.filter.pod_problems import FilterModule
from ansible_collections.tracing.xray.plugins.filter.pod_problems import pod_problems


def by_pod(entries):
    return {e["pod"]: e for e in entries}


def test_the_five_pods_of_the_brief():
    found = by_pod(pod_problems(pods.the_five(), generation=pods.GENERATION))
    # The ready pod is not a problem; every other one has an entry.
    assert set(found) == {"xray-daemon-crash", "xray-daemon-pull", "xray-daemon-pending", "xray-daemon-new"}
    assert {name for name, e in found.items() if e["definite"]} == {"xray-daemon-crash", "xray-daemon-pull", "xray-daemon-pending"}
    assert {name for name, e in found.items() if e["failed"]} == {"xray-daemon-crash", "xray-daemon-pull", "xray-daemon-pending"}

    crash = found["xray-daemon-crash"]
    assert (crash["node"], crash["reason"], crash["exit_code"], crash["restarts"], crash["container"]) == (
        "node-a", "CrashLoopBackOff", 1, 3, "xray-daemon")
    assert crash["summary"] == (
        "pod xray-daemon-crash is Running: CrashLoopBackOff (exit code 1, 3 restarts): " + pods.BACKOFF_MESSAGE
    )
    # In CrashLoopBackOff only the terminated instance has a log (k8s_log previous=true).
    assert crash["logs"] == [{"previous": True, "label": "previous container, exit code 1"}]

    pull = found["xray-daemon-pull"]
    assert (pull["node"], pull["reason"], pull["exit_code"], pull["logs"]) == ("node-b", "ImagePullBackOff", None, [])
    assert pull["summary"] == 'pod xray-daemon-pull is Pending: ImagePullBackOff: Back-off pulling image "public.ecr.aws/xray/aws-xray-daemon:9.9.9"'

    pending = found["xray-daemon-pending"]
    # Not scheduled: the node comes from the DaemonSet's node affinity.
    assert (pending["node"], pending["reason"], pending["container"]) == ("node-c", "Unschedulable", "")
    assert pending["summary"] == "pod xray-daemon-pending is Pending: Unschedulable: " + pods.UNSCHEDULABLE_MESSAGE
    assert "didn't have free ports" in pending["message"]

    new = found["xray-daemon-new"]
    assert (new["failed"], new["definite"], new["reason"], new["logs"]) == (False, False, "ContainerCreating", [])
    assert new["summary"] == "pod xray-daemon-new is Pending: containers with unready status: [xray-daemon]; ContainerCreating"


@pytest.mark.parametrize("restarts, definite", [(0, False), (1, False), (2, True), (5, True)])
def test_crash_loop_is_definite_from_two_restarts(restarts, definite):
    (entry,) = pod_problems([pods.crash_loop(restarts=restarts)], generation=pods.GENERATION)
    assert entry["failed"] and entry["reason"] == "CrashLoopBackOff"
    assert entry["definite"] is definite
    assert pod_problems([pods.crash_loop(restarts=restarts)], generation=pods.GENERATION, min_restarts=1)[0]["definite"] is (restarts >= 1)


def test_a_pod_running_again_after_one_crash_is_reported_not_definite():
    (entry,) = pod_problems([pods.restarted_once()], generation=pods.GENERATION)
    assert (entry["failed"], entry["definite"], entry["reason"], entry["exit_code"], entry["restarts"]) == (True, False, "Restarted", 2, 1)
    assert entry["summary"] == "pod xray-daemon-again is Running: Restarted (exit code 2, 1 restart)"
    assert entry["logs"] == [{"previous": False, "label": "current container"}, {"previous": True, "label": "previous container, exit code 2"}]


@pytest.mark.parametrize(
    "reason, definite",
    [
        ("ImagePullBackOff", True),
        ("InvalidImageName", True),
        ("ErrImageNeverPull", True),
        ("CreateContainerConfigError", True),
        ("ErrImagePull", False),
        ("CreateContainerError", False),
        ("RunContainerError", False),
    ],
)
def test_waiting_failures(reason, definite):
    pod = pods.image_pull_back_off()
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": reason, "message": "secret \"aws\" not found"}}
    (entry,) = pod_problems([pod], generation=pods.GENERATION)
    assert (entry["failed"], entry["definite"], entry["reason"]) == (True, definite, reason)
    assert entry["summary"] == f'pod xray-daemon-pull is Pending: {reason}: secret "aws" not found'


def test_terminated_with_exit_code_and_oom_kill():
    pod = pods.restarted_once()
    status = pod["status"]["containerStatuses"][0]
    status["state"] = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    (entry,) = pod_problems([pod])
    assert (entry["reason"], entry["exit_code"], entry["definite"]) == ("OOMKilled", 137, False)
    status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}
    status["lastState"] = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    status["restartCount"] = 4
    (entry,) = pod_problems([pod])
    assert entry["summary"] == "pod xray-daemon-again is Running: CrashLoopBackOff (exit code 137 OOMKilled, 4 restarts): back-off"


def test_pods_of_an_older_template_never_end_the_wait():
    old = pods.crash_loop(name="xray-daemon-old", restarts=9, generation=pods.GENERATION - 1)
    (entry,) = pod_problems([old], generation=pods.GENERATION)
    assert entry["failed"] and not entry["current"] and not entry["definite"]
    # Unknown generation (the DaemonSet could not be read): nothing is definite.
    assert not pod_problems([pods.crash_loop()], generation=-1)[0]["definite"]
    # Without a generation every pod counts.
    assert pod_problems([old])[0]["definite"]


def test_unschedulable_is_not_definite_while_an_old_pod_terminates_on_the_node_or_preemption_runs():
    pending = pods.unschedulable(node="node-c")
    old = pods.terminating(pods.running_ready(name="xray-daemon-old", node="node-c"))
    (entry,) = pod_problems([old, pending], generation=pods.GENERATION)
    assert entry["pod"] == "xray-daemon-pending" and entry["failed"] and not entry["definite"]
    elsewhere = pods.terminating(pods.running_ready(name="xray-daemon-other", node="node-z"))
    assert pod_problems([elsewhere, pending], generation=pods.GENERATION)[0]["definite"]
    nominated = pods.unschedulable(nominatedNodeName="node-c")
    assert not pod_problems([nominated], generation=pods.GENERATION)[0]["definite"]


def test_terminating_and_ready_pods_are_left_out():
    assert pod_problems([pods.terminating(pods.crash_loop()), pods.running_ready()]) == []
    assert pod_problems([]) == [] and pod_problems(None) == []


def test_pod_level_failure_and_sparse_pods():
    evicted = pods.container_creating()
    evicted["status"] = {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory.\n"}
    (entry,) = pod_problems([evicted])
    assert (entry["failed"], entry["definite"], entry["reason"]) == (True, False, "Evicted")
    assert entry["summary"] == "pod xray-daemon-new is Failed: Evicted: The node was low on resource: memory."
    (bare,) = pod_problems([{"metadata": {"name": "p"}}])
    assert bare["summary"] == "pod p is Unknown" and bare["node"] == "" and not bare["failed"]


def test_init_container_failures_count():
    pod = pods.container_creating()
    pod["status"]["initContainerStatuses"] = copy.deepcopy(pods.crash_loop()["status"]["containerStatuses"])
    pod["status"]["initContainerStatuses"][0]["name"] = "init"
    (entry,) = pod_problems([pod], generation=pods.GENERATION)
    assert (entry["container"], entry["reason"], entry["definite"]) == ("init", "CrashLoopBackOff", True)


def test_filter_is_registered():
    assert FilterModule().filters() == {"pod_problems": pod_problems}
