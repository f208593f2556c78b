#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_encryption_config
version_added: 0.1.0
short_description: Manage the AWS X-Ray encryption configuration
description:
  - Set how AWS X-Ray encrypts trace data at rest in an account and region, either with an
    AWS-owned key (V(NONE)) or with an AWS KMS key (V(KMS)).
  - Calls C(PutEncryptionConfig) only when the configuration differs; optionally waits until X-Ray
    reports the configuration C(ACTIVE).
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  encryption_type:
    description:
      - V(NONE) for X-Ray's default encryption, V(KMS) for encryption with O(key_id).
    type: str
    choices: [NONE, KMS]
    required: true
    aliases: [type]
  key_id:
    description:
      - The KMS key, as a key ID, a key ARN, an alias (V(alias/my-key)) or an alias ARN.
      - Required when O(encryption_type=KMS), refused when O(encryption_type=NONE). X-Ray does not support asymmetric keys.
      - X-Ray reports the key as a key ARN. To compare an alias with it the module resolves the alias
        with C(kms:DescribeKey); without that permission it assumes the key differs.
      - Before it changes the configuration the module checks with C(kms:DescribeKey) that the key exists, is enabled
        and is a symmetric encryption key, and fails naming O(key_id) otherwise (without that permission it warns and
        goes on).
    type: str
  wait:
    description:
      - Wait until X-Ray reports the configuration C(ACTIVE) (it is C(UPDATING) while X-Ray applies a change).
    type: bool
    default: false
  wait_timeout:
    description:
      - How long to wait, in seconds, when O(wait=true).
    type: int
    default: 300
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.check_diff
notes:
  - Supports C(check_mode) (reports what would change without calling C(PutEncryptionConfig)) and C(diff).
  - The module has no O(ignore:state) option, because O(encryption_type=NONE) is X-Ray's default.
  - The encryption configuration is an account-wide singleton (one per account and region) without tags, so it has no
    owner and the module has no C(ownership_tags) or C(adopt) option (unlike M(tracing.xray.xray_group)) - whatever
    the module sets applies to every cluster and team using X-Ray in that account and region.
  - Nothing resets it on teardown - the groups role's C(groups_state=absent) path does not touch it (it puts only the
    trace segment destination and the indexing rule back, and only with C(groups_restore_account_defaults=true)).
    To go back to X-Ray's default, run this module with O(encryption_type=NONE) explicitly.
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Encrypt X-Ray data with a customer managed key and wait until it applies
  tracing.xray.xray_encryption_config:
    encryption_type: KMS
    key_id: alias/xray
    wait: true

- name: Back to X-Ray's default encryption
  tracing.xray.xray_encryption_config:
    encryption_type: NONE
"""

RETURN = r"""
encryption_config:
  description: The encryption configuration after the task (in check mode, what it would be).
  returned: always
  type: dict
  contains:
    type:
      description: V(NONE) or V(KMS).
      returned: always
      type: str
      sample: KMS
    key_id:
      description: The KMS key X-Ray uses, as X-Ray reports it (absent with V(NONE)).
      returned: when O(encryption_type=KMS)
      type: str
      sample: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    status:
      description: V(ACTIVE), or V(UPDATING) while X-Ray applies a change.
      returned: always
      type: str
      sample: ACTIVE
"""

import time

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict


from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.xray import exit_with_diff
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client

POLL_INTERVAL = 5


def _is_alias(key_id):
    return key_id.startswith("alias/") or ":alias/" in key_id


def _same_key_text(current, wanted):
    """True when two key references obviously name the same key (equal, or ID vs ARN)."""
    if not current or not wanted:
        return False
    return current == wanted or current.endswith(("/" + wanted, ":" + wanted)) or wanted.endswith(("/" + current, ":" + current))


def describe_key(module, key_id):
    """KMS's metadata of ``key_id`` (kms:DescribeKey, once per key), or None when KMS cannot be asked (a warning says
    so). A key or alias that does not exist fails the module, before any change."""
    described = module.__dict__.setdefault("_xray_kms_keys", {})
    if key_id not in described:
        metadata = None
        try:
            kms = module.client("kms", retry_decorator=aws_retry())
            metadata = kms.describe_key(aws_retry=True, KeyId=key_id)["KeyMetadata"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NotFoundException":
                module.fail_json(
                    msg=f"key_id {key_id!r} does not exist in KMS in this account and region (kms:DescribeKey: NotFoundException): "
                    "give the key ID, key ARN, alias (alias/...) or alias ARN of an existing symmetric KMS key"
                )
            module.warn(f"Could not check key_id {key_id!r} with kms:DescribeKey ({e})")
        except BotoCoreError as e:
            module.warn(f"Could not check key_id {key_id!r} with kms:DescribeKey ({e})")
        described[key_id] = metadata
    return described[key_id]


def check_key_usable(module, key_id):
    """Fail when KMS says the key cannot encrypt X-Ray data (disabled, pending deletion, asymmetric)."""
    metadata = describe_key(module, key_id)
    if not metadata:
        return
    if metadata.get("Enabled") is False or metadata.get("KeyState") not in (None, "Enabled"):
        module.fail_json(msg=f"key_id {key_id!r} is {metadata.get('KeyState') or 'disabled'} in KMS: X-Ray needs an enabled symmetric KMS key")
    spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    if spec not in (None, "SYMMETRIC_DEFAULT") or metadata.get("KeyUsage") not in (None, "ENCRYPT_DECRYPT"):
        module.fail_json(
            msg=f"key_id {key_id!r} is a {spec} key for {metadata.get('KeyUsage')}: "
            "X-Ray needs a symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)"
        )


def key_matches(module, current, wanted):
    """Whether X-Ray's current key (usually a key ARN) is the key the user named."""
    if _same_key_text(current, wanted):
        return True
    if not current or not _is_alias(wanted):
        return False
    metadata = describe_key(module, wanted)
    if metadata is None:
        module.warn(f"Could not resolve key_id {wanted!r} with kms:DescribeKey; assuming it differs from {current!r}")
        return False
    return any(_same_key_text(current, ref) for ref in (metadata.get("Arn"), metadata.get("KeyId")))


def get_config(module, client):
    try:
        return client.get_encryption_config(aws_retry=True).get("EncryptionConfig", {})
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read the X-Ray encryption configuration")


def wait_active(module, client, config):
    deadline = time.monotonic() + module.params["wait_timeout"]
    while config.get("Status") != "ACTIVE":
        if time.monotonic() >= deadline:
            module.fail_json(
                msg=f"Timed out after {module.params['wait_timeout']} seconds waiting for the X-Ray encryption "
                f"configuration to become ACTIVE (status {config.get('Status')})",
                encryption_config=camel_dict_to_snake_dict(config),
            )
        time.sleep(POLL_INTERVAL)
        config = get_config(module, client)
    return config


def _view(config):
    """The part of a configuration the diff shows."""
    view = {"type": config.get("Type")}
    if config.get("KeyId"):
        view["key_id"] = config["KeyId"]
    return view


def main():
    argument_spec = dict(
        encryption_type=dict(type="str", choices=["NONE", "KMS"], required=True, aliases=["type"]),
        key_id=dict(type="str", no_log=False),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    wanted_type = module.params["encryption_type"]
    key_id = module.params["key_id"]
    if wanted_type == "KMS" and not key_id:
        module.fail_json(msg="key_id is required with encryption_type=KMS: give a KMS key ID, key ARN, alias or alias ARN")
    if wanted_type == "NONE" and key_id:
        module.fail_json(msg="key_id is only valid with encryption_type=KMS: remove key_id or set encryption_type=KMS")
    if key_id is not None and len(key_id) > 3000:
        module.fail_json(msg="key_id is longer than 3000 characters, the X-Ray limit")
    if module.params["wait_timeout"] < 0:
        module.fail_json(msg="wait_timeout must be 0 or more seconds")

    client = xray_client(module)
    current = get_config(module, client)

    if wanted_type == "NONE":
        changed = current.get("Type") != "NONE"
    else:
        changed = current.get("Type") != "KMS" or not key_matches(module, current.get("KeyId"), key_id)

    config = current
    if changed and wanted_type == "KMS":
        # PutEncryptionConfig would switch X-Ray to a key that does not exist (the sandbox and, for an alias, X-Ray too).
        check_key_usable(module, key_id)
    if changed:
        request = {"Type": wanted_type}
        if wanted_type == "KMS":
            request["KeyId"] = key_id
        if module.check_mode:
            config = dict(request, Status="UPDATING")
        else:
            try:
                config = client.put_encryption_config(aws_retry=True, **request).get("EncryptionConfig", {})
            except (BotoCoreError, ClientError) as e:
                module.fail_json_aws(e, msg=f"Failed to set the X-Ray encryption configuration to {wanted_type}")
    if module.params["wait"] and not module.check_mode:
        config = wait_active(module, client, config)

    exit_with_diff(module, _view(current), _view(config), changed=changed, encryption_config=camel_dict_to_snake_dict(config))


if __name__ == "__main__":
    main()
