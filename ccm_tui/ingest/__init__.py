"""Alert ingest: webhook receiver, one parser per source, and noise reduction.

``parsers`` read Alertmanager, Grafana, Kibana and generic payloads; ``pipeline``
turns alerts into the few tasks worth doing (dedupe, one open task per host and
alert, resolve-before-start, flap detection, silences); ``server`` is the HTTP
receiver (``ccm webhook``); ``replay`` re-runs a recorded trace.
"""
