"""Names and payloads of the runner activities behind ``emit`` and ``listen``.

The handlers (inside the DSL workflow) and the activities (``stigmer_runner.activities.events``)
both import this module; payloads are plain JSON objects.
"""

from __future__ import annotations

EMIT_EVENT_ACTIVITY = "stigmer.runner.events.emit"
"""Publish one CloudEvent through the API. Payload ``{"event": {...}}``; returns the API's
delivery report ``{"event_id", "delivered_to": [...]}``."""

SUBSCRIBE_ACTIVITY = "stigmer.runner.events.subscribe"
"""Register a listen task's routing filters with the API. Payload
``{"execution_id", "task", "filters": [{attribute: literal, ...}, ...]}``."""

UNSUBSCRIBE_ACTIVITY = "stigmer.runner.events.unsubscribe"
"""Remove a listen task's subscription. Payload ``{"execution_id", "task"}``."""

CLOUDEVENTS_SPEC_VERSION = "1.0"
