"""Write the API's OpenAPI document: ``python scripts/gen_openapi.py > docs/openapi.json``.

A test fails when the committed document and the code disagree.
"""

from __future__ import annotations

import json
import sys

from stigmer_api.app import create_app
from stigmer_api.settings import ApiSettings


def render() -> str:
    app = create_app(ApiSettings(stigmer_api_allow_anonymous=True))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
