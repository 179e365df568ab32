"""Version 1 of the JSON API (/api/v1/): app.py assembles it; one module per
resource (me, datasets, experiments, registry, policies, stage_requests, serving)
holds its input/output contracts and its operations; auth.py, errors.py and
parser.py are shared by all of them."""
