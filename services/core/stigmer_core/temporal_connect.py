"""Connecting to Temporal: one data converter for every process, and retrying workers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from stigmer_core.payload_codec import AesGcmPayloadCodec
from stigmer_core.payload_keys import PayloadKeyring, keyring_from
from stigmer_core.settings import TemporalSettings

log = logging.getLogger(__name__)


def payload_keyring(settings: TemporalSettings) -> PayloadKeyring | None:
    """The payload keys the settings configure (reads the keys file), or None: codec off.

    Raises ValidationFailedError naming the variable when a key or the file is unusable.
    """
    return keyring_from(
        current=(
            settings.stigmer_payload_key.get_secret_value()
            if settings.stigmer_payload_key
            else None
        ),
        previous=(
            settings.stigmer_payload_previous_keys.get_secret_value()
            if settings.stigmer_payload_previous_keys
            else None
        ),
        keys_file=settings.stigmer_payload_keys_file,
    )


def data_converter(settings: TemporalSettings) -> DataConverter:
    """The converter every Stigmer process uses with Temporal: encrypting when keys are set.

    All processes must agree, so the API, both workers and local mode build it here.
    """
    keyring = payload_keyring(settings)
    if keyring is None:
        log.info("no payload key configured: Temporal payloads are stored in clear")
        return DataConverter.default
    log.info("Temporal payloads are encrypted with key id %r", keyring.current.key_id)
    # Failure messages and stack traces move into an encoded payload too: an error may quote
    # a value built from a secret (a URL, a header).
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=AesGcmPayloadCodec(keyring=keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    settings: TemporalSettings,
    *,
    converter: DataConverter,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """One attempt to connect with Stigmer's data converter.

    ``interceptors`` (see ``stigmer_core.temporal_interceptors``) apply to the client and
    to every worker built on it. ``runtime`` is the process's SDK runtime (workers export
    its metrics); None is the SDK's default runtime.
    """
    return await Client.connect(
        settings.temporal_host_port,
        namespace=settings.temporal_namespace,
        data_converter=converter,
        interceptors=interceptors,
        runtime=runtime,
    )


async def connect_with_retry(
    settings: TemporalSettings,
    *,
    attempt_timeout: float = 5.0,
    max_delay: float = 30.0,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """Connect, retrying with capped exponential backoff until it works or we are cancelled.

    A misconfigured payload key raises at once: retrying would not fix it.
    """
    converter = data_converter(settings)
    delay = 0.5
    while True:
        try:
            return await asyncio.wait_for(
                connect(settings, converter=converter, interceptors=interceptors, runtime=runtime),
                timeout=attempt_timeout,
            )
        except (RuntimeError, TimeoutError, OSError) as exc:
            log.warning(
                "Temporal at %s not reachable (%s); retrying in %.1fs",
                settings.temporal_host_port,
                exc or type(exc).__name__,
                delay,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
