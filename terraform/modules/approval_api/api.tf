locals {
  # Path tree: every resource with its parent ("" is the API root) and its path part.
  resources = {
    jobs              = { parent = "", part = "jobs" }
    jobs_id           = { parent = "jobs", part = "{jobId}" }
    jobs_id_approve   = { parent = "jobs_id", part = "approve" }
    jobs_id_reject    = { parent = "jobs_id", part = "reject" }
    jobs_id_unpublish = { parent = "jobs_id", part = "unpublish" }
    approve           = { parent = "", part = "approve" }
    approve_id        = { parent = "approve", part = "{jobId}" }
    reject            = { parent = "", part = "reject" }
    reject_id         = { parent = "reject", part = "{jobId}" }
    status            = { parent = "", part = "status" }
    status_id         = { parent = "status", part = "{jobId}" }
    review            = { parent = "", part = "review" }
    review_id         = { parent = "review", part = "{jobId}" }
  }

  # Operator routes: SigV4-signed requests only (AWS_IAM).
  operator_routes = {
    "GET /jobs"                    = { resource = "jobs", method = "GET" }
    "GET /jobs/{jobId}"            = { resource = "jobs_id", method = "GET" }
    "POST /jobs/{jobId}/approve"   = { resource = "jobs_id_approve", method = "POST" }
    "POST /jobs/{jobId}/reject"    = { resource = "jobs_id_reject", method = "POST" }
    "POST /jobs/{jobId}/unpublish" = { resource = "jobs_id_unpublish", method = "POST" }
    "POST /approve/{jobId}"        = { resource = "approve_id", method = "POST" }
    "POST /reject/{jobId}"         = { resource = "reject_id", method = "POST" }
    "GET /status/{jobId}"          = { resource = "status_id", method = "GET" }
  }

  # Reviewer routes: opened from the e-mailed link; the function checks the single-use review token.
  review_routes = {
    "GET /review/{jobId}"  = { resource = "review_id", method = "GET" }
    "POST /review/{jobId}" = { resource = "review_id", method = "POST" }
  }

  level1 = { for k, r in local.resources : k => r if r.parent == "" }
  level2 = { for k, r in local.resources : k => r if contains(keys(local.level1), r.parent) }
  level3 = { for k, r in local.resources : k => r if contains(keys(local.level2), r.parent) }

  resource_ids = merge(
    { for k, r in aws_api_gateway_resource.level1 : k => r.id },
    { for k, r in aws_api_gateway_resource.level2 : k => r.id },
    { for k, r in aws_api_gateway_resource.level3 : k => r.id },
  )

  methods = merge(aws_api_gateway_method.operator, aws_api_gateway_method.review)
}

resource "aws_api_gateway_rest_api" "this" {
  name        = "${var.name}-approval"
  description = "ETL approvals: operators (IAM) and reviewers (review link)."

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  # A replacement API must exist before the old one goes, so its stage can be redeployed first.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "level1" {
  for_each = local.level1

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "level2" {
  for_each = local.level2

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level1[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "level3" {
  for_each = local.level3

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level2[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_method" "operator" {
  #checkov:skip=CKV2_AWS_53:The function validates every request (pydantic models, 400 on a bad body or query); a request validator would duplicate that.
  for_each = local.operator_routes

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = local.resource_ids[each.value.resource]
  http_method   = each.value.method
  authorization = "AWS_IAM"

  request_parameters = strcontains(each.key, "{jobId}") ? { "method.request.path.jobId" = true } : {}
}

resource "aws_api_gateway_method" "review" {
  #checkov:skip=CKV_AWS_59:Reviewers follow an e-mailed link and hold no AWS credentials; the function admits a request only with the job's unexpired, single-use review token.
  #checkov:skip=CKV2_AWS_53:The function validates the token and the body (pydantic) and answers 400/403/409/410 itself; a request validator would duplicate that.
  for_each = local.review_routes

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = local.resource_ids[each.value.resource]
  http_method   = each.value.method
  authorization = "NONE"

  request_parameters = { "method.request.path.jobId" = true }
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.methods

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = each.value.resource_id
  http_method             = each.value.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = module.function.alias_invoke_arn
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Routes and integrations of the approval API."

  # A new deployment whenever a route, its authorization or its integration changes.
  triggers = {
    redeployment = sha1(jsonencode([
      local.resources,
      { for k, m in local.methods : k => [m.id, m.authorization] },
      { for k, i in aws_api_gateway_integration.this : k => [i.id, i.uri] },
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_api_gateway_integration.this]
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses are per-job and change with every decision; caching them would serve stale state.
  #checkov:skip=CKV2_AWS_29:A WAF web ACL is an account-level choice; the stage is throttled and every route is authenticated (IAM or review token).
  #checkov:skip=CKV2_AWS_51:Clients are operators' SDKs and reviewers' browsers, not mutual-TLS peers.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integration.latency"
      integrationStatus  = "$context.integration.status"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      userArn            = "$context.identity.userArn"
      errorMessage       = "$context.error.message"
      xrayTraceId        = "$context.xrayTraceId"
    })
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.execution]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Responses are per-job and change with every decision; caching them would serve stale state.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "ERROR"
    data_trace_enabled     = false # request bodies hold decisions and tokens
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }
}
