# One dashboard: a column per orchestrator, side by side, the same widgets in each, then the shared API.

locals {
  # The region of this deployment, read from the alarm topic's ARN (arn:<partition>:sns:<region>:...).
  region  = split(":", aws_sns_topic.alarms.arn)[3]
  columns = { for i, p in sort(keys(var.pipelines)) : p => i * 12 }

  # A CloudWatch dashboard metric: [namespace, name, dimension name, value, ..., {options}].
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
  job_metric_row = {
    for p in keys(var.pipelines) : p => concat(
      [local.metrics_namespace],
      ["__NAME__"],
      flatten([for k, v in local.job_dimensions[p] : [k, v]]),
    )
  }

  pipeline_widgets = flatten([
    for p, q in var.pipelines : [
      {
        type = "metric", x = local.columns[p], y = 0, width = 12, height = 6
        properties = {
          title  = "Jobs by state: ${local.workflows[p]}"
          region = local.region
          stat   = "Sum", period = 300, view = "timeSeries", stacked = false
          metrics = [
            for name in concat([local.job_metrics.started], local.ending_metrics) :
            [for item in local.job_metric_row[p] : item == "__NAME__" ? name : item]
          ]
        }
      },
      {
        type = "metric", x = local.columns[p], y = 6, width = 12, height = 6
        properties = {
          title  = "Rows processed and rejected: ${local.workflows[p]}"
          region = local.region
          stat   = "Sum", period = 300, view = "timeSeries", stacked = true
          metrics = [
            for name in [local.job_metrics.rows_valid, local.job_metrics.rows_rejected] :
            [for item in local.job_metric_row[p] : item == "__NAME__" ? name : item]
          ]
        }
      },
      {
        type = "metric", x = local.columns[p], y = 12, width = 12, height = 6
        properties = {
          title  = "Approval latency (seconds): ${local.workflows[p]}"
          region = local.region
          period = 3600, view = "timeSeries", stacked = false
          metrics = [
            for stat in ["p50", "p90", "Maximum"] : concat(
              [for item in local.job_metric_row[p] : item == "__NAME__" ? local.job_metrics.approval_latency : item],
              [{ stat = stat, label = stat }],
            )
          ]
        }
      },
      {
        type = "metric", x = local.columns[p], y = 18, width = 12, height = 6
        properties = {
          title  = "Intake: ${local.workflows[p]}"
          region = local.region
          stat   = "Sum", period = 300, view = "timeSeries", stacked = false
          metrics = concat(
            [
              for name in [local.job_metrics.start_failures, local.job_metrics.unsupported] :
              [for item in local.job_metric_row[p] : item == "__NAME__" ? name : item]
            ],
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.dlq_name, { stat = "Maximum", label = "messages in the DLQ" }]],
            [["AWS/Lambda", "Errors", "FunctionName", q.starter_function_name, { label = "starter errors" }]],
          )
        }
      },
    ]
  ])

  orchestrator_widgets = concat(
    !contains(keys(var.pipelines), "durable") ? [] : [{
      type = "metric", x = local.columns["durable"], y = 24, width = 12, height = 6
      properties = {
        title  = "Orchestrator: ${local.workflows.durable}"
        region = local.region
        stat   = "Sum", period = 300, view = "timeSeries", stacked = false
        metrics = [
          for name in ["Invocations", "Errors", "Throttles"] : ["AWS/Lambda", name, "FunctionName", var.pipelines["durable"].orchestrator]
        ]
      }
    }],
    !contains(keys(var.pipelines), "sfn") ? [] : [{
      type = "metric", x = local.columns["sfn"], y = 24, width = 12, height = 6
      properties = {
        title  = "Orchestrator: ${local.workflows.sfn}"
        region = local.region
        stat   = "Sum", period = 300, view = "timeSeries", stacked = false
        metrics = [
          for name in ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"] :
          ["AWS/States", name, "StateMachineArn", var.pipelines["sfn"].orchestrator]
        ]
      }
    }],
  )

  api_widget = {
    type = "metric", x = 0, y = 30, width = 24, height = 6
    properties = {
      title  = "Approval API"
      region = local.region
      stat   = "Sum", period = 300, view = "timeSeries", stacked = false
      metrics = [
        for name in ["Count", "4XXError", "5XXError"] : ["AWS/ApiGateway", name, "ApiName", var.api_name, "Stage", var.api_stage_name]
      ]
    }
  }

  # Both workflows share the jobs table: these are the deployment's (etl_aws.job_ages).
  state_widgets = [
    {
      type = "metric", x = 0, y = 36, width = 12, height = 6
      properties = {
        title  = "Jobs by state (not ended)"
        region = local.region
        stat   = "Maximum", period = 300, view = "timeSeries", stacked = true
        metrics = [
          for status in local.waiting_statuses :
          [local.metrics_namespace, local.age_metrics.jobs_in_state, "service", local.metrics_service, "JobsTable", var.jobs_table_name, "Status", status]
        ]
      }
    },
    {
      type = "metric", x = 12, y = 36, width = 12, height = 6
      properties = {
        title  = "Oldest job per state (seconds without moving), and approval time left"
        region = local.region
        stat   = "Maximum", period = 300, view = "timeSeries", stacked = false
        metrics = concat(
          [
            for status in local.processing_statuses :
            [local.metrics_namespace, local.age_metrics.oldest_job_age, "service", local.metrics_service, "JobsTable", var.jobs_table_name, "Status", status]
          ],
          [[local.metrics_namespace, local.age_metrics.approval_time_left, "service", local.metrics_service, "JobsTable", var.jobs_table_name, { stat = "Minimum" }]],
        )
      }
    },
  ]

  dashboard_widgets = concat(local.pipeline_widgets, local.orchestrator_widgets, [local.api_widget], local.state_widgets)
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
