"""The deployment contract: one place for names the code, the local runtime and Terraform must agree on.

Terraform cannot import Python, so `tests/terraform` reads the HCL and holds it against these values;
the local runtime builds its resources from them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

# S3 layout ---------------------------------------------------------------------------------------
UPLOAD_PREFIX = "uploads/"
# Uploads end in ".csv" in any casing (".CSV", ".Csv"): etl_aws.events.is_upload ignores case.
# S3 notification filter rules match case-sensitively and one suffix rule cannot name every casing, so the
# notification filters on the prefix only and the starter sorts what arrives: a CSV starts a job, any other
# object under uploads/ gets a job record that ends FAILED with UNSUPPORTED_FILE_TYPE.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
UPLOAD_SUFFIX = ".csv"
NOTIFICATION_FILTER_RULES: dict[str, str] = {"prefix": UPLOAD_PREFIX}
UNSUPPORTED_FILE_TYPE = "unsupported_file_type"  # the error code of a job for a non-CSV upload
STAGING_PREFIX = "staging/"  # staging/<job_id>/records.jsonl, rejects.jsonl, manifest.json (output bucket)
PROCESSED_PREFIX = "processed/"  # processed/<job_id>/... (output bucket, consumers read only this)
ARCHIVE_PREFIX = "archive/"  # archive/<job_id>/<file name> (raw bucket)
# retracted/<job_id>/... (output bucket): a published output taken back by `etl jobs unpublish`, kept
# with retraction.json (who, when, why); consumers read processed/ only, so they no longer see it.
RETRACTED_PREFIX = "retracted/"

RECORDS_FILE = "records.jsonl"
REJECTS_FILE = "rejects.jsonl"
MANIFEST_FILE = "manifest.json"
RETRACTION_FILE = "retraction.json"

# Workflow kinds ----------------------------------------------------------------------------------
DURABLE = "durable"
STEP_FUNCTIONS = "sfn"
WORKFLOWS = (DURABLE, STEP_FUNCTIONS)

# Environment variables read by the functions' settings (etl_aws.config) ---------------------------
ENV_JOBS_TABLE = "ETL_JOBS_TABLE"
ENV_OUTPUT_BUCKET = "ETL_OUTPUT_BUCKET"
ENV_TOPIC_ARN = "ETL_TOPIC_ARN"
ENV_API_URL = "ETL_API_URL"
ENV_WORKFLOW = "ETL_WORKFLOW"
ENV_ORCHESTRATOR_ARN = "ETL_ORCHESTRATOR_ARN"
ENV_APPROVAL_TIMEOUT = "ETL_APPROVAL_TIMEOUT_SECONDS"
ENV_MAX_FILE_BYTES = "ETL_MAX_FILE_BYTES"
ENV_RETENTION_DAYS = "ETL_RETENTION_DAYS"
# Optional, approval API only: "false" lets an operator reject without a reason (default: one is required).
ENV_REJECT_REASON_REQUIRED = "ETL_REJECT_REASON_REQUIRED"
# Optional: who reviews each dataset (JSON, etl_aws.reviewers.ReviewConfig); unset or "{}": one shared link.
ENV_REVIEW_CONFIG = "ETL_REVIEW_CONFIG"
# Optional, the functions that run the load step: the quality policies as JSON (etl_aws.policy); unset or
# empty, every job waits for a reviewer.
ENV_DATASET_POLICIES = "ETL_DATASET_POLICIES"
# Which of these each function reads, and which it requires: its model in etl_aws.config.FUNCTION_SETTINGS.

# Limits of a job -------------------------------------------------------------------------------------
# The transform streams a whole file within one Lambda invocation (a durable step cannot span two, and a
# Step Functions task is one invocation), so the largest file is bounded by the function's timeout:
#     max_file_bytes <= TRANSFORM_BYTES_PER_SECOND * (timeout - TRANSFORM_MARGIN_SECONDS)
# TRANSFORM_BYTES_PER_SECOND is the throughput assumed on Lambda: etl_core measures ~18.7 MB/s on one
# developer core (README, benchmark: 68.5 MB in 3.67 s); a 1,024 MB function has ~0.6 vCPU and reads from
# S3, so 4 MiB/s is assumed, about a third of the measured figure. Terraform validates the same relation.
LAMBDA_MAX_TIMEOUT_SECONDS = 900  # https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html
TRANSFORM_BYTES_PER_SECOND = 4 * 1024**2
TRANSFORM_MARGIN_SECONDS = 60  # extract, load, S3 and DynamoDB round trips in the same invocation
DEFAULT_MAX_FILE_BYTES = 1024**3  # 1 GiB: ~256 s of transform at the assumed throughput
DEFAULT_RETENTION_DAYS = 90
DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 3600
# A job record (DynamoDB TTL, set when the job is created) must outlive the longest wait for a decision,
# plus this margin for processing and for operators to see how the job ended.
RETENTION_MARGIN_DAYS = 7
# ETL_DATASET_POLICIES's largest value: Lambda allows 4 KB for all of a function's environment variables
# together (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html), and the others need
# room. Terraform validates the same bound.
MAX_DATASET_POLICIES_BYTES = 2048

# Deployment defaults ---------------------------------------------------------------------------------
# The defaults of the settings, the local runtime and the cost model. Terraform cannot import them: its
# variables' defaults are held equal to these by tests/terraform/test_contract_defaults.py.
DEFAULT_REJECT_REASON_REQUIRED = True  # an operator's rejection must say why
DEFAULT_DATASET_POLICIES = ""  # no quality policies: every job waits for a reviewer (etl_aws.policy)
# Every function is invoked through this alias (a qualified ARN); each change publishes a version and
# moves the alias to it. terraform/modules/lambda_function `alias_name`.
FUNCTION_ALIAS = "live"
# Memory (MB) of each function, by FUNCTIONS key: environments/aws step_, task_, starter_ and
# approval_memory_size. The cost model prices a deployment's functions at these sizes.
STEP_MEMORY_MB = 1024  # the functions that transform a file: the durable orchestrator, the SFN transform
TASK_MEMORY_MB = 512
STARTER_MEMORY_MB = 256
APPROVAL_MEMORY_MB = 512
DEFAULT_MEMORY_MB: dict[str, int] = {
    "durable-orchestrator": STEP_MEMORY_MB,
    "durable-starter": STARTER_MEMORY_MB,
    "sfn-extract": TASK_MEMORY_MB,
    "sfn-transform": STEP_MEMORY_MB,
    "sfn-load": TASK_MEMORY_MB,
    "sfn-request-approval": TASK_MEMORY_MB,
    "sfn-finalize": TASK_MEMORY_MB,
    "sfn-starter": STARTER_MEMORY_MB,
    "approval-api": APPROVAL_MEMORY_MB,
}


def max_transform_bytes(timeout_seconds: int) -> int:
    """The largest file a function with this timeout can be trusted to transform in one invocation."""
    return TRANSFORM_BYTES_PER_SECOND * max(0, timeout_seconds - TRANSFORM_MARGIN_SECONDS)


def min_retention_days(approval_timeout_seconds: int) -> int:
    """The shortest job retention that keeps a record past the longest approval wait."""
    return -(-approval_timeout_seconds // 86400) + RETENTION_MARGIN_DAYS


# Jobs table --------------------------------------------------------------------------------------
JOBS_HASH_KEY = "job_id"
JOBS_STATUS_INDEX = "status-index"  # GSI: hash status, range updated_at
JOBS_TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its logical name, handler path, the zip it ships in, the env it reads."""

    key: str
    handler: str
    package: str
    env: tuple[str, ...]


_STEP_ENV = (ENV_JOBS_TABLE, ENV_OUTPUT_BUCKET, ENV_WORKFLOW, ENV_MAX_FILE_BYTES, ENV_RETENTION_DAYS)
_APPROVAL_STEP_ENV = (*_STEP_ENV, ENV_TOPIC_ARN, ENV_API_URL, ENV_APPROVAL_TIMEOUT, ENV_REVIEW_CONFIG)
_APPROVAL_API_ENV = (ENV_JOBS_TABLE, ENV_REJECT_REASON_REQUIRED, ENV_TOPIC_ARN, ENV_REVIEW_CONFIG)
_LOAD_ENV = (*_STEP_ENV, ENV_DATASET_POLICIES)  # the load step evaluates the dataset's quality policy
_STARTER_ENV = (ENV_JOBS_TABLE, ENV_WORKFLOW, ENV_ORCHESTRATOR_ARN, ENV_RETENTION_DAYS)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "durable-orchestrator",
        "etl_durable.orchestrator.handler",
        "durable",
        (*_APPROVAL_STEP_ENV, ENV_DATASET_POLICIES),
    ),
    FunctionSpec("durable-starter", "etl_durable.starter.handler", "durable", _STARTER_ENV),
    FunctionSpec("sfn-extract", "etl_sfn.tasks.extract_handler", "sfn", _STEP_ENV),
    FunctionSpec("sfn-transform", "etl_sfn.tasks.transform_handler", "sfn", _STEP_ENV),
    FunctionSpec("sfn-load", "etl_sfn.tasks.load_handler", "sfn", _LOAD_ENV),
    FunctionSpec("sfn-request-approval", "etl_sfn.tasks.request_approval_handler", "sfn", _APPROVAL_STEP_ENV),
    FunctionSpec("sfn-finalize", "etl_sfn.tasks.finalize_handler", "sfn", _STEP_ENV),
    FunctionSpec("sfn-starter", "etl_sfn.starter.handler", "sfn", _STARTER_ENV),
    FunctionSpec("approval-api", "etl_approval.app.handler", "approval", _APPROVAL_API_ENV),
)

FUNCTIONS_BY_KEY = {f.key: f for f in FUNCTIONS}

# Packages built by `make build` into dist/<package>.zip, and the source trees each one holds.
PACKAGES: dict[str, tuple[str, ...]] = {
    "durable": ("packages/etl_core", "packages/etl_aws", "lambdas/durable"),
    "sfn": ("packages/etl_core", "packages/etl_aws", "lambdas/sfn"),
    "approval": ("packages/etl_core", "packages/etl_aws", "lambdas/approval"),
}

ASL_PATH = "lambdas/sfn/src/etl_sfn/state_machine.asl.json"
# Placeholders in the ASL file, filled by Terraform templatefile() and by the tests.
ASL_PLACEHOLDERS = {
    "extract": "${extract_arn}",
    "transform": "${transform_arn}",
    "load": "${load_arn}",
    "request_approval": "${request_approval_arn}",
    "finalize": "${finalize_arn}",
}
ASL_TIMEOUT_PLACEHOLDER = "${approval_timeout_seconds}"


# Approval API routes ---------------------------------------------------------------------------------
# The one list of the API's routes: the local gateway serves it, the `etl` client calls it, the tests hold
# the Powertools app's registered routes and terraform/modules/approval_api's resources and methods to it.
AUTH_IAM = "iam"  # SigV4-signed at the gateway (AWS_IAM authorization)
AUTH_REVIEW_LINK = "review_link"  # no gateway auth; the function checks the e-mailed link's review token


@dataclass(frozen=True)
class ApiRoute:
    """One route: HTTP method, API Gateway resource path, who may call it, the app function serving it."""

    method: str
    resource: str  # e.g. /jobs/{jobId}
    auth: str
    handler: str  # function name in etl_approval.app

    @property
    def iam(self) -> bool:
        return self.auth == AUTH_IAM

    @property
    def key(self) -> str:
        return f"{self.method} {self.resource}"

    def path(self, **params: str) -> str:
        """The resource path with its {parameters} filled in, each percent-encoded as one segment."""
        path = self.resource
        for name, value in params.items():
            path = path.replace(f"{{{name}}}", quote(value, safe=""))
        return path


ROUTE_LIST_JOBS = ApiRoute("GET", "/jobs", AUTH_IAM, "list_jobs")
ROUTE_GET_JOB = ApiRoute("GET", "/jobs/{jobId}", AUTH_IAM, "get_job")
ROUTE_APPROVE = ApiRoute("POST", "/jobs/{jobId}/approve", AUTH_IAM, "approve")
ROUTE_REJECT = ApiRoute("POST", "/jobs/{jobId}/reject", AUTH_IAM, "reject")
ROUTE_UNPUBLISH = ApiRoute("POST", "/jobs/{jobId}/unpublish", AUTH_IAM, "unpublish_job")
ROUTE_REVIEW_PAGE = ApiRoute("GET", "/review/{jobId}", AUTH_REVIEW_LINK, "review")
ROUTE_REVIEW_DECIDE = ApiRoute("POST", "/review/{jobId}", AUTH_REVIEW_LINK, "review_decide")
# The seed article's paths, kept so its commands still reach the same functions.
ROUTE_SEED_APPROVE = ApiRoute("POST", "/approve/{jobId}", AUTH_IAM, "approve")
ROUTE_SEED_REJECT = ApiRoute("POST", "/reject/{jobId}", AUTH_IAM, "reject")
ROUTE_SEED_STATUS = ApiRoute("GET", "/status/{jobId}", AUTH_IAM, "get_job")

API_ROUTES: tuple[ApiRoute, ...] = (
    ROUTE_LIST_JOBS,
    ROUTE_GET_JOB,
    ROUTE_APPROVE,
    ROUTE_REJECT,
    ROUTE_UNPUBLISH,
    ROUTE_SEED_APPROVE,
    ROUTE_SEED_REJECT,
    ROUTE_SEED_STATUS,
    ROUTE_REVIEW_PAGE,
    ROUTE_REVIEW_DECIDE,
)
