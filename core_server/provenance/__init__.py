"""Where an artifact came from, and how far a person took it from the AI output.

credentials  the signing certificate: made locally on first use, or the user's own
manifest     what a manifest states about a candidate (plain dicts, no signing)
embed        C2PA manifests embedded in PNG and JPEG (c2pa-python)
sidecar      the same manifest as a signed JSON file beside a text
verify       is a file's manifest intact, and who signed it
artifacts    signed files for a session store's candidates: on acceptance, on request, on export
distance     text and pixel distances between an AI output and what became of it
measure      session analytics from the store (distances computed here, aggregated in sessions.analytics)
plot         the analytics as PNG charts
"""
