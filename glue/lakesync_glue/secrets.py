"""Secrets Manager reads of the job: the hash key and the database credentials come from here.

Errors name the argument and the secret but never its content: a message is logged and written
to the result.
"""
from __future__ import annotations

from .args import JobArgs
from .errors import InternalError, InvalidArgument

# Errors a retry cannot fix: the secret, its policy or its content must change.
_PERMANENT_SECRET_ERRORS = (
    "ResourceNotFoundException",
    "AccessDeniedException",
    "DecryptionFailure",
    "InvalidRequestException",
    "InvalidParameterException",
    "ValidationException",
)


def secret_region(secret_id: str, args: JobArgs) -> str | None:
    """The secret's region: from its ARN, else --region, else the table bucket's, else the SDK's default."""
    parts = secret_id.split(":")
    if secret_id.startswith("arn:") and len(parts) > 3 and parts[3]:
        return parts[3]
    if args.region:
        return args.region
    if args.table_bucket_arn:
        return args.table_bucket_arn.split(":")[3] or None
    return None


def secret_string(secret_id: str, where: str, args: JobArgs) -> str | None:
    """The SecretString of a secret (GetSecretValue); None for a binary secret. `where` starts each message."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("secretsmanager", region_name=secret_region(secret_id, args))
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _PERMANENT_SECRET_ERRORS:
            raise InvalidArgument(
                f"{where}: Secrets Manager GetSecretValue failed with {code}; check that the secret exists in the "
                "job's region, is not scheduled for deletion, and that the job role may call "
                "secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)"
            ) from None
        raise InternalError(f"{where}: Secrets Manager GetSecretValue failed with {code or 'an error'}; retry the load") from None
    except BotoCoreError as exc:
        raise InternalError(f"{where}: could not reach Secrets Manager ({type(exc).__name__}); retry the load") from None
    text = response.get("SecretString")
    return str(text) if text else None
