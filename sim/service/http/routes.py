"""The route table: every endpoint, what it takes and answers, and who may call it.

The router serves it and ``/openapi.json`` is generated from it
(:mod:`sim.service.http.openapi`), so the two cannot disagree.
"""

from __future__ import annotations

from sim.rules.config.campaigns import Campaign
from sim.rules.config.verdict import Decision
from sim.service import schemas as s
from sim.service.experiment_stats import ExperimentStats
from sim.service.experiments import Experiment, ExperimentId, ExperimentIn, ExperimentList
from sim.service.http import routes_config as config
from sim.service.http import routes_devices as devices
from sim.service.http import routes_experiments as experiments
from sim.service.http import routes_meta as meta
from sim.service.http.asgi import Route
from sim.service.http.docs import DOCS_ASSET, REDOC_ASSET

DEVICE = {"device_id": s.Ident}
ASSET = {"asset": DOCS_ASSET}
REDOC_FILE = {"asset": REDOC_ASSET}
USER = {"user_id": s.Ident}
CAMPAIGN = {"campaign_id": s.CampaignId}
EXPERIMENT = {"experiment_id": ExperimentId}

ROUTES: list[Route] = [
    Route("GET", "/healthz", meta.healthz, "Readiness: the store reads and writes",
          auth="none", out=s.Health, errors=(503,)),
    Route("GET", "/livez", meta.livez, "Liveness: the process answers", auth="none",
          out=s.Alive),
    Route("GET", "/metrics", meta.metrics, "Prometheus metrics of every worker",
          auth="none", out="text/plain"),
    Route("GET", "/openapi.json", meta.openapi, "This document", auth="none",
          out="application/json"),
    Route("GET", "/docs", meta.docs, "Interactive API docs (Swagger UI)", auth="none",
          out="text/html"),
    Route("GET", "/docs/{asset}", meta.docs_asset, "A static file of the docs page",
          auth="none", out="text/plain", params=ASSET, in_spec=False),
    Route("GET", "/redoc", meta.redoc, "API reference (ReDoc)", auth="none",
          out="text/html", errors=(404,)),
    Route("GET", "/redoc/{asset}", meta.redoc_asset, "A static file of the ReDoc page",
          auth="none", out="text/plain", params=REDOC_FILE, in_spec=False),
    Route("POST", "/v1/apps", config.create_app, "Create an app (admin key)", auth="admin",
          body=s.AppIn, out=s.AppCreated, ok=(201,), tag="apps"),
    Route("GET", "/v1/app", config.get_app, "The app of this key", out=s.AppInfo, tag="apps"),
    Route("GET", "/v1/app/stats", config.app_stats, "Devices and stored events by type",
          out=s.AppStats, tag="apps"),
    Route("GET", "/v1/settings", config.get_settings, "The app's policy settings",
          out=s.AppSettings, tag="apps"),
    Route("PUT", "/v1/settings", config.put_settings, "Replace the policy settings",
          body=s.AppSettings, out=s.AppSettings, tag="apps"),
    Route("GET", "/v1/campaigns", config.list_campaigns, "All campaigns, in decision order",
          out=s.CampaignList, tag="campaigns"),
    Route("GET", "/v1/campaigns/{campaign_id}", config.get_campaign, "One campaign",
          out=Campaign, errors=(404,), params=CAMPAIGN, tag="campaigns"),
    Route("PUT", "/v1/campaigns/{campaign_id}", config.put_campaign,
          "Create (201) or replace (200) a campaign", body=s.CampaignIn, out=Campaign,
          ok=(200, 201), params=CAMPAIGN, tag="campaigns"),
    Route("GET", "/v1/campaigns/{campaign_id}/stats", devices.campaign_stats,
          "Campaign figures", out=s.CampaignStats, errors=(404,), params=CAMPAIGN,
          tag="campaigns"),
    Route("POST", "/v1/devices", devices.create_device, "Register an install",
          body=s.DeviceIn, out=s.DeviceView, ok=(201, 200), errors=(409,), tag="devices"),
    Route("GET", "/v1/devices/{device_id}", devices.get_device,
          "A device's state and dialogs left", out=s.DeviceView, errors=(404,), params=DEVICE,
          tag="devices"),
    Route("POST", "/v1/devices/{device_id}/events", devices.post_events,
          "A batch of events, applied all or nothing", body=s.EventBatch, out=s.EventsResult,
          errors=(404, 409), params=DEVICE, tag="devices"),
    Route("POST", "/v1/devices/{device_id}/eligibility", devices.eligibility,
          "Should the soft prompt show now?", body=s.EligibilityIn, out=Decision,
          errors=(404, 409), params=DEVICE, tag="devices"),
    Route("GET", "/v1/users/{user_id}/reachability", devices.reachability,
          "Reachability per platform family", out=s.Reachability, errors=(404,), params=USER,
          tag="devices"),
    Route("GET", "/v1/experiments", experiments.list_experiments, "All experiments, by id",
          out=ExperimentList, tag="experiments"),
    Route("GET", "/v1/experiments/{experiment_id}", experiments.get_experiment,
          "One experiment", out=Experiment, errors=(404,), params=EXPERIMENT,
          tag="experiments"),
    Route("PUT", "/v1/experiments/{experiment_id}", experiments.put_experiment,
          "Create (201) an experiment, or change it (200) while it may change",
          body=ExperimentIn, out=Experiment, ok=(200, 201), errors=(409,),
          params=EXPERIMENT, tag="experiments"),
    Route("GET", "/v1/experiments/{experiment_id}/stats", experiments.experiment_stats,
          "An experiment's figures per arm and cell, with always-valid intervals",
          out=ExperimentStats, errors=(404,), params=EXPERIMENT, tag="experiments"),
    Route("GET", "/v1/experiments/{experiment_id}/page", experiments.experiment_page,
          "An experiment's page: arms, funnels with intervals, comparisons (HTML)",
          out="text/html", errors=(404,), params=EXPERIMENT, tag="experiments"),
]
"""Every endpoint."""
