# One alarm per condition an operator must act on, notifying the topic when it fires and when it
# recovers. Most fire on the first occurrence in one period; periods without data (no traffic) are OK.

locals {
  dlq_alarms = {
    for p, q in var.pipelines : "${p}-dlq-not-empty" => {
      description = "S3 events of the ${p} pipeline are in its dead-letter queue: they started no job. Inspect with `etl dlq list`, then `etl dlq redrive`."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      dimensions  = { QueueName = q.dlq_name }
    }
  }
  jobs_failed_alarms = {
    for p, q in var.pipelines : "${p}-jobs-failed" => {
      description = "A ${p} job ended FAILED. `etl jobs list --status FAILED` shows why; `etl jobs retry ID` starts a new attempt."
      namespace   = local.metrics_namespace
      metric      = "JobsFailed"
      statistic   = "Sum"
      dimensions  = local.job_dimensions[p]
    }
  }
  start_failure_alarms = {
    for p, q in var.pipelines : "${p}-start-failures" => {
      description = "The ${p} starter could not handle a message (reported back to SQS, which retries it, then moves it to the DLQ)."
      namespace   = local.metrics_namespace
      metric      = "StartFailures"
      statistic   = "Sum"
      dimensions  = local.job_dimensions[p]
    }
  }
  starter_error_alarms = {
    for p, q in var.pipelines : "${p}-starter-errors" => {
      description = "The ${p} starter function failed an invocation (the whole batch returns to the queue)."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      dimensions  = { FunctionName = q.starter_function_name }
    }
  }

  # The keys of every alarm are known at plan time (for_each needs them): they depend on which pipelines
  # are deployed, never on a computed name or ARN.
  # Lambda's function metrics: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
  durable_alarms = {
    for key, metric in { "durable-orchestrator-errors" = "Errors", "durable-orchestrator-throttles" = "Throttles" } :
    key => {
      description = "The durable orchestrator reports ${metric} (an invocation failed, or was refused for lack of concurrency)."
      namespace   = "AWS/Lambda"
      metric      = metric
      statistic   = "Sum"
      dimensions  = { FunctionName = var.pipelines["durable"].orchestrator }
    } if contains(keys(var.pipelines), "durable")
  }

  # Step Functions execution metrics: https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
  sfn_alarms = {
    for key, metric in {
      "sfn-executions-failed"    = "ExecutionsFailed"
      "sfn-executions-throttled" = "ExecutionThrottled"
      "sfn-executions-timed-out" = "ExecutionsTimedOut"
      } : key => {
      description = "The state machine reports ${metric}."
      namespace   = "AWS/States"
      metric      = metric
      statistic   = "Sum"
      dimensions  = { StateMachineArn = var.pipelines["sfn"].orchestrator }
    } if contains(keys(var.pipelines), "sfn")
  }

  # API Gateway REST API metrics: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
  api_alarms = {
    "api-5xx" = {
      description = "The approval API answered with a 5XX error (reviewers or operators could not decide)."
      namespace   = "AWS/ApiGateway"
      metric      = "5XXError"
      statistic   = "Sum"
      dimensions  = { ApiName = var.api_name, Stage = var.api_stage_name }
    }
  }

  # The jobs' ages, published on a schedule (job_ages.tf, etl_aws.job_ages): missing data keeps the state.
  stuck_alarms = {
    for status in local.processing_statuses : "job-stuck-${lower(status)}" => {
      description = "A job has been ${status} for over ${var.stuck_after_minutes} minutes without moving. `etl jobs list --status ${status}` names it; `etl jobs show ID` tells where it stopped."
      namespace   = local.metrics_namespace
      metric      = local.age_metrics.oldest_job_age
      statistic   = "Maximum"
      dimensions  = { service = local.metrics_service, JobsTable = var.jobs_table_name, Status = status }
      threshold   = var.stuck_after_minutes * 60
      comparison  = "GreaterThanThreshold"
      missing     = "ignore"
    }
  }
  approval_alarms = {
    "approval-near-timeout" = {
      description = "A job waiting for a decision expires in under ${var.approval_warning_minutes} minutes (it then ends EXPIRED). `etl jobs list --status PENDING_APPROVAL` lists them."
      namespace   = local.metrics_namespace
      metric      = local.age_metrics.approval_time_left
      statistic   = "Minimum"
      dimensions  = { service = local.metrics_service, JobsTable = var.jobs_table_name }
      threshold   = var.approval_warning_minutes * 60
      comparison  = "LessThanThreshold"
      missing     = "notBreaching"
    }
  }

  # The alarms above fire on the first occurrence: more than 0 in one period.
  first_occurrence = { threshold = 0, comparison = "GreaterThanThreshold", missing = "notBreaching" }

  alarms = merge(
    local.stuck_alarms,
    local.approval_alarms,
    local.dlq_alarms,
    local.jobs_failed_alarms,
    local.start_failure_alarms,
    local.starter_error_alarms,
    local.durable_alarms,
    local.sfn_alarms,
    local.api_alarms,
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = merge(local.first_occurrence, each.value).comparison
  threshold           = merge(local.first_occurrence, each.value).threshold
  treat_missing_data  = merge(local.first_occurrence, each.value).missing
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}
