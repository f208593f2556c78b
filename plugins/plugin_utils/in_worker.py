# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run a module inside Ansible's worker process instead of a new Python process (issue 15).

Every task of ours talks to an API (Kubernetes, AWS) from the controller, over ``ansible_connection: local``. The
normal way runs each module as a new Python process (AnsiballZ), which costs 0.7-1.2 s before the module does any work:
the interpreter, then ``import kubernetes`` or a boto3 client. Here the worker that Ansible forks for the task runs the
module itself, through ansible-core's own AnsiballZ runner (``_ansiballz._loader.run_module``: the same argument
encoding, ``runpy`` as ``__main__``, an unhandled exception as the same failed result), and hands the same JSON to the
same parser (``ActionBase._parse_returned_data``), so the task's result is the one the normal way gives. The client libraries are
imported once, by the playbook's process, when the strategy first loads the action plugin (``warm``); every worker is
forked from that process and inherits them.

This is the technique of ansible.netcommon's "direct execution" (``import_modules``), for which ansible-core 2.19
keeps the module hooks (``basic._ANSIBLE_ARGS``, ``_ANSIBLE_PROFILE``) that its runner sets.

The worker runs a module only where the normal way would run it on this machine, with this Python and as this user;
anything else takes the normal way, unchanged:
- the connection is ``local`` and nothing is delegated to another host's connection;
- no ``become``, no ``async``;
- ``ansible_python_interpreter`` is this Python (``{{ ansible_playbook_python }}``, as the inventories set it);
- ``xray_in_worker`` is not false (the switch to compare both ways, or to get out of this one).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import os
import sys

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action.normal import ActionModule as NormalAction

try:  # AnsiballZ's own module runner (ansible-core 2.19); without it every module takes the normal way
    from ansible.module_utils._internal._ansiballz import _loader as _LOADER
except ImportError:  # pragma: no cover - older ansible-core
    _LOADER = None

PROFILE = "legacy"  # the serialization profile of every module we run this way (ansible-core's default for modules)
SWITCH = "xray_in_worker"


def warm(*module_names):
    """Import modules (and so their client libraries) in the playbook's process, where the strategy loads the action
    plugin; the workers forked later inherit them. A module that cannot be imported here is left to the worker, which
    reports the error the normal way."""
    for name in module_names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - warming is an optimisation; the task itself reports import errors
            pass
    _warm_jinja_plugins()
    # What is imported now lives as long as the process: out of the garbage collector's sight (gc.freeze), a full
    # collection neither scans it here nor, in every forked worker, touches and so copies its pages (measured: fork
    # plus a full collection 39 ms -> 2.5 ms with kubernetes and boto3 imported).
    gc.freeze()


def _warm_jinja_plugins():
    """Load ansible-core's filter and test plugins, and this collection's filters, in the playbook's process. The first
    filter or test a template uses makes its loader import and wrap every builtin plugin file (ansible-core caches that
    per process); the playbook's process seldom templates one, so without this every forked worker did it again
    (measured: about 5 ms per worker, 0.4-0.9 s per site.yml run). A filter named by its collection (tracing.xray.X)
    makes the loader load every filter file of the collection; imported here, a worker finds them in sys.modules
    instead of executing them again (about 50 ms per worker that uses one)."""
    try:
        from ansible.plugins.loader import filter_loader
        from ansible.plugins.loader import test_loader

        filter_loader.get("ansible.builtin.bool")
        test_loader.get("ansible.builtin.match")
        filter_loader.get("tracing.xray.pod_problems")
    except Exception:  # noqa: BLE001 - warming is an optimisation; a template that needs the plugin loads it itself
        pass


def _same_python(interpreter):
    if not interpreter:
        return False
    try:
        return os.path.realpath(interpreter) == os.path.realpath(sys.executable)
    except (TypeError, ValueError):
        return False


class InWorkerMixin:
    """Put before an ActionBase class: its ``_execute_module`` runs the module in the worker when it may (see this
    file's doc). ``IN_WORKER_MODULE`` names the module a task of this action's own name runs (None: the same name)."""

    IN_WORKER_MODULE = None

    def in_worker_reason(self, task_vars):
        """None when the module may run in this worker; else why not (shown with -vvv)."""
        if _LOADER is None or not hasattr(_LOADER, "run_module"):
            return "this ansible-core has no AnsiballZ module runner to call"
        if not boolean(self._templar.template(task_vars.get(SWITCH, True)), strict=False):
            return f"{SWITCH} is false"
        if getattr(self._connection, "transport", None) != "local":
            return "the connection is not local"
        if self._play_context.become:
            return "become is set"
        if self._task.async_val:
            return "the task is async"
        interpreter = self._templar.template(task_vars.get("ansible_python_interpreter"))
        if not _same_python(to_text(interpreter) if interpreter else None):
            return "ansible_python_interpreter is not the playbook's own Python"
        return None

    def _execute_module(self, module_name=None, module_args=None, tmp=None, task_vars=None, persist_files=False,
                        delete_remote_tmp=None, wrap_async=False, ignore_unknown_opts=False):
        task_vars = task_vars if task_vars is not None else {}
        if module_name in (None, self._task.action):
            module_name = self.IN_WORKER_MODULE or self._task.action
        module_args = self._task.args.copy() if module_args is None else module_args
        reason = self.in_worker_reason(task_vars)
        module_fqn = None if reason else self._find_python_module(module_name)
        if module_fqn is None:
            self._display.vvv(f"{module_name}: a new Python process ({reason or 'not a Python module'})")
            return super()._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars,
                                           wrap_async=wrap_async, ignore_unknown_opts=ignore_unknown_opts)
        self._display.vvv(f"{module_name}: run in the worker ({module_fqn})")
        self._update_module_args(module_name, module_args, task_vars, ignore_unknown_opts=ignore_unknown_opts)
        res = _run_main(module_fqn, module_args, self._environment())
        data = self._parse_returned_data(res, PROFILE)
        return _finish(data)

    def _find_python_module(self, module_name):
        context = self._shared_loader_obj.module_loader.find_plugin_with_context(
            module_name, collection_list=self._task.collections)
        if not context.resolved or not context.plugin_resolved_path.endswith(".py"):
            return None
        return context.plugin_resolved_name

    def _environment(self):
        environment = {}
        self._compute_environment_string(raw_environment_out=environment)
        return {to_text(k): to_text(v) for k, v in environment.items()}


@contextlib.contextmanager
def _patched_environ(values):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_main(module_fqn, module_args, environment):
    """Run the module as AnsiballZ runs it, with ansible-core's own loader (``runpy`` as ``__main__``; an unhandled
    exception becomes the same failed result), and return what AnsiballZ's process would have: stdout, stderr, rc."""
    import json

    from ansible.module_utils import _internal as module_internal
    from ansible.module_utils import basic
    from ansible.module_utils.common import json as module_json
    from ansible.module_utils.common import warnings as module_warnings

    encoder = module_json.get_module_encoder(PROFILE, module_json.Direction.CONTROLLER_TO_MODULE)
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode()
    out, err, rc = io.StringIO(), io.StringIO(), 0
    saved = (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, module_internal.is_controller)
    # As in AnsiballZ: the module is not the controller, so its warnings and deprecations go into its result (the
    # controller shows them from there) rather than straight to the display.
    module_internal.is_controller = False
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    try:
        with _patched_environ(environment), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                _LOADER.run_module(json_params=payload, profile=PROFILE, module_fqn=module_fqn, modlib_path="",
                                   extensions={})
            except SystemExit as exit_:
                rc = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, module_internal.is_controller = saved
        module_warnings._global_warnings.clear()
        module_warnings._global_deprecations.clear()
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "rc": rc}


def _finish(data):
    """What ActionBase._execute_module does with a parsed result: internal keys out, stdout/stderr lines. Not copied:
    its rename of a top-level ``results`` that is not a list (for dnf; no module run here returns one) and the
    interpreter discovery facts (no discovery here)."""
    from ansible.vars.clean import remove_internal_keys

    data.pop("_ansible_suppress_tmpdir_delete", None)
    remove_internal_keys(data)
    for key in ("stdout", "stderr"):
        if key in data and f"{key}_lines" not in data:
            data[f"{key}_lines"] = (data.get(key) or "").splitlines()
    return data


class InWorkerAction(InWorkerMixin, NormalAction):
    """ansible.builtin.normal (what runs a module that has no action plugin of its own), with the module run in the
    worker when it may."""


def action_for(plugin_name):
    """The ActionModule of ``plugins/action/<module>.py`` (``plugin_name`` is its ``__name__``): warms that module."""
    warm(plugin_name.replace(".plugins.action.", ".plugins.modules.", 1))
    return type("ActionModule", (InWorkerAction,), {"__module__": plugin_name})
