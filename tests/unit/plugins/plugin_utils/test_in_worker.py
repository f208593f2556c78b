"""plugin_utils/in_worker.py: a module's main() run in this process gives what AnsiballZ would hand the parser, and the
worker runs a module only where the normal way would run it on this machine with this Python."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from types import SimpleNamespace

import pytest
from ansible.module_utils import basic

from ansible_collections.tracing.xray.plugins.plugin_utils import in_worker


@pytest.fixture
def module(tmp_path, monkeypatch):
    """Write a module file (its body after the imports) and return the name runpy runs it by."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def _write(body):
        name = f"in_worker_fake_{len(made)}_{os.getpid()}"
        source = ("from ansible.module_utils.basic import AnsibleModule\n\n\n" + textwrap.dedent(body)
                  + "\n\nif __name__ == '__main__':\n    main()\n")
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        made.append(name)
        return name

    return _write


def _args(**kwargs):
    return {"_ansible_check_mode": False, "_ansible_no_log": False, "_ansible_diff": False, **kwargs}


def _result(res):
    return json.loads(res["stdout"])


def test_arguments_reach_the_module_and_its_result_comes_back_on_stdout(module):
    name = module("""
        def main():
            module = AnsibleModule(argument_spec={"name": {"type": "str", "required": True}}, supports_check_mode=True)
            module.exit_json(changed=True, greeting=f"hello {module.params['name']}", check=module.check_mode)
    """)
    res = in_worker._run_main(name, _args(name="xray", _ansible_check_mode=True), {})
    assert res["rc"] == 0
    assert _result(res)["greeting"] == "hello xray"
    assert _result(res)["check"] is True
    assert basic._ANSIBLE_ARGS is None  # restored: the next module of the same worker (a loop) gets its own


def test_fail_json_is_rc_1_with_the_message(module):
    name = module("""
        def main():
            AnsibleModule(argument_spec={}).fail_json(msg="the field 'x' must be one of a, b")
    """)
    res = in_worker._run_main(name, _args(), {})
    assert res["rc"] == 1
    assert _result(res)["failed"] is True
    assert _result(res)["msg"] == "the field 'x' must be one of a, b"


def test_bad_arguments_fail_as_argument_spec_errors(module):
    name = module("""
        def main():
            AnsibleModule(argument_spec={"count": {"type": "int"}})
    """)
    res = in_worker._run_main(name, _args(count="many"), {})
    assert res["rc"] == 1
    assert "count" in _result(res)["msg"]


def test_an_unhandled_exception_is_the_failed_result_ansiballz_gives(module):
    name = module("""
        def main():
            raise RuntimeError("boom inside the module")
    """)
    res = in_worker._run_main(name, _args(), {})
    assert res["rc"] == 1
    assert _result(res)["failed"] is True
    assert "boom inside the module" in res["stdout"]


def test_the_task_environment_holds_only_while_the_module_runs(module):
    name = module("""
        import os

        def main():
            AnsibleModule(argument_spec={}).exit_json(changed=False, seen=os.environ.get("XRAY_IN_WORKER_TEST"))
    """)
    assert "XRAY_IN_WORKER_TEST" not in os.environ
    res = in_worker._run_main(name, _args(), {"XRAY_IN_WORKER_TEST": "on"})
    assert _result(res)["seen"] == "on"
    assert "XRAY_IN_WORKER_TEST" not in os.environ


def test_warnings_go_into_the_result_and_not_into_the_next_one(module):
    from ansible.module_utils import _internal

    warns = module("""
        def main():
            module = AnsibleModule(argument_spec={})
            module.warn("first run only")
            module.exit_json(changed=False)
    """)
    quiet = module("""
        def main():
            AnsibleModule(argument_spec={}).exit_json(changed=False)
    """)
    controller = _internal.is_controller
    first = _result(in_worker._run_main(warns, _args(), {}))
    second = _result(in_worker._run_main(quiet, _args(), {}))
    assert "first run only" in json.dumps(first["warnings"])
    assert "warnings" not in second
    assert _internal.is_controller == controller


def test_finish_drops_internal_keys_and_splits_output_lines():
    data = in_worker._finish({"_ansible_suppress_tmpdir_delete": True, "_ansible_no_log": False, "stdout": "a\nb",
                              "changed": False})
    assert data == {"stdout": "a\nb", "stdout_lines": ["a", "b"], "changed": False}


class _Templar:
    def template(self, value):
        return {"{{ ansible_playbook_python }}": sys.executable}.get(value, value)


def _action(transport="local", become=False, async_val=0):
    action = in_worker.InWorkerMixin()
    action._templar = _Templar()
    action._connection = SimpleNamespace(transport=transport)
    action._play_context = SimpleNamespace(become=become)
    action._task = SimpleNamespace(async_val=async_val)
    return action


HERE = {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}


@pytest.mark.parametrize(
    ("action", "task_vars", "reason"),
    [
        (_action(), HERE, None),
        (_action(), {**HERE, "xray_in_worker": False}, "xray_in_worker is false"),
        (_action(), {**HERE, "xray_in_worker": "no"}, "xray_in_worker is false"),
        (_action(transport="ssh"), HERE, "the connection is not local"),
        (_action(become=True), HERE, "become is set"),
        (_action(async_val=30), HERE, "the task is async"),
        (_action(), {}, "ansible_python_interpreter is not the playbook's own Python"),
        (_action(), {"ansible_python_interpreter": "/usr/bin/false-python"},
         "ansible_python_interpreter is not the playbook's own Python"),
    ],
)
def test_the_worker_runs_a_module_only_where_the_normal_way_would_run_it_here(action, task_vars, reason):
    assert action.in_worker_reason(task_vars) == reason


def test_the_same_python_through_a_symlink(tmp_path):
    link = tmp_path / "python"
    link.symlink_to(sys.executable)
    assert in_worker._same_python(str(link))
    assert not in_worker._same_python(None)


def test_action_for_names_the_module_of_the_action_file_and_warms_it(monkeypatch):
    warmed = []
    monkeypatch.setattr(in_worker, "warm", lambda *names: warmed.extend(names))
    action_class = in_worker.action_for("ansible_collections.tracing.xray.plugins.action.k8s_ownership")
    assert warmed == ["ansible_collections.tracing.xray.plugins.modules.k8s_ownership"]
    assert issubclass(action_class, in_worker.InWorkerMixin)
    assert action_class.IN_WORKER_MODULE is None


PLUGINS = os.path.join(os.path.dirname(os.path.abspath(in_worker.__file__)), os.pardir)


def _names(kind):
    return {f[:-3] for f in os.listdir(os.path.join(PLUGINS, kind)) if f.endswith(".py") and f != "__init__.py"}


def test_every_module_has_its_action_plugin_so_it_runs_in_the_worker():
    assert _names("modules") == _names("action")


@pytest.mark.parametrize("name", ["k8s", "k8s_info"])
def test_the_kubernetes_wrappers_run_kubernetes_core_modules(name):
    import importlib

    action = importlib.import_module(f"ansible_collections.tracing.xray.plugins.action.{name}").ActionModule
    assert action.IN_WORKER_MODULE == f"kubernetes.core.{name}"
    assert issubclass(action, in_worker.InWorkerMixin)


def test_warm_puts_what_it_imported_out_of_the_collectors_sight():
    import gc

    gc.unfreeze()
    in_worker.warm("json")
    try:
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_warm_loads_the_collections_filters_in_the_playbooks_process():
    """A worker forked after warm() finds this collection's filter files imported (the loader loads all of them for
    any tracing.xray.X filter) instead of executing them again. In a process of its own: the plugin loader's
    collection finder is process-wide."""
    import os
    import subprocess
    import sys

    collections_root = os.path.join(os.path.dirname(os.path.abspath(__file__)), *[os.pardir] * 4, ".cache", "collections")

    code = """
import sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible_collections.tracing.xray.plugins.plugin_utils import in_worker
names = ["ansible_collections.tracing.xray.plugins.filter." + n for n in ("pod_problems", "groups_problems", "irsa_trust_policy")]
before = [n for n in names if n in sys.modules]
in_worker._warm_jinja_plugins()
print(before, [n for n in names if n not in sys.modules])
"""
    out = subprocess.run([sys.executable, "-c", code, os.path.realpath(collections_root)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []", out.stdout + out.stderr
