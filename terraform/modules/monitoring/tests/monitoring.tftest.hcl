mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name            = "t1"
  jobs_table_name = "t1-jobs"
  alarm_emails    = ["ops@example.com"]
  pipelines = {
    durable = { dlq_name = "t1-durable-events-dlq", starter_function_name = "t1-durable-starter", orchestrator = "t1-durable-orchestrator" }
    sfn     = { dlq_name = "t1-sfn-events-dlq", starter_function_name = "t1-sfn-starter", orchestrator = "arn:aws:states:eu-west-1:123456789012:stateMachine:t1-pipeline" }
  }
  api_name       = "t1-approval"
  api_stage_name = "v1"

  jobs_function_name      = "t1-approval-api"
  jobs_function_alias_arn = "arn:aws:lambda:eu-west-1:123456789012:function:t1-approval-api:live"
}

run "both_pipelines_get_every_alarm_and_a_column_each" {
  command = apply

  assert {
    condition = toset(keys(aws_cloudwatch_metric_alarm.this)) == toset([
      "durable-dlq-not-empty", "durable-jobs-failed", "durable-start-failures", "durable-starter-errors",
      "sfn-dlq-not-empty", "sfn-jobs-failed", "sfn-start-failures", "sfn-starter-errors",
      "durable-orchestrator-errors", "durable-orchestrator-throttles",
      "sfn-executions-failed", "sfn-executions-throttled", "sfn-executions-timed-out",
      "api-5xx",
      "job-stuck-received", "job-stuck-extracted", "job-stuck-transformed", "job-stuck-loaded", "job-stuck-approved",
      "approval-near-timeout",
    ])
    error_message = "Each pipeline, each orchestrator and the API must have their alarms."
  }

  assert {
    condition = alltrue([
      for k, a in aws_cloudwatch_metric_alarm.this :
      a.alarm_actions == toset([aws_sns_topic.alarms.arn]) && a.ok_actions == toset([aws_sns_topic.alarms.arn])
    ])
    error_message = "Every alarm must notify the topic when it fires and when it recovers."
  }

  assert {
    condition = alltrue([
      for k, a in aws_cloudwatch_metric_alarm.this :
      a.threshold == 0 && a.comparison_operator == "GreaterThanThreshold" && a.treat_missing_data == "notBreaching"
      if !startswith(k, "job-stuck-") && k != "approval-near-timeout"
    ])
    error_message = "Failures, DLQ messages and errors must alarm on their first occurrence."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["job-stuck-transformed"].threshold == 1800
      && aws_cloudwatch_metric_alarm.this["job-stuck-transformed"].metric_name == "OldestJobAge"
      && aws_cloudwatch_metric_alarm.this["job-stuck-transformed"].dimensions == tomap({ service = "csv-etl", JobsTable = "t1-jobs", Status = "TRANSFORMED" })
    )
    error_message = "A job TRANSFORMED for over 30 minutes (the default) must raise the stuck alarm."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["approval-near-timeout"].threshold == 7200
      && aws_cloudwatch_metric_alarm.this["approval-near-timeout"].comparison_operator == "LessThanThreshold"
      && aws_cloudwatch_metric_alarm.this["approval-near-timeout"].statistic == "Minimum"
    )
    error_message = "An approval with under 2 hours left (the default) must raise an alarm."
  }

  assert {
    condition     = aws_cloudwatch_event_rule.job_ages.schedule_expression == "rate(5 minutes)" && aws_cloudwatch_event_target.job_ages.arn == var.jobs_function_alias_arn
    error_message = "The jobs' ages must be published every 5 minutes by the jobs function's alias."
  }

  assert {
    condition = (
      aws_lambda_permission.job_ages.qualifier == "live" && aws_lambda_permission.job_ages.principal == "events.amazonaws.com"
      && aws_lambda_permission.job_ages.source_arn == aws_cloudwatch_event_rule.job_ages.arn
    )
    error_message = "Only the schedule's rule may invoke the alias."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["durable-dlq-not-empty"].dimensions == tomap({ QueueName = "t1-durable-events-dlq" })
    error_message = "The DLQ alarm must watch the pipeline's own dead-letter queue."
  }

  assert {
    condition = aws_cloudwatch_metric_alarm.this["sfn-jobs-failed"].dimensions == tomap({
      service = "csv-etl", Workflow = "sfn", JobsTable = "t1-jobs"
    })
    error_message = "The FAILED-jobs alarm must name the job metrics' dimensions (etl_aws.job_metrics)."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["api-5xx"].dimensions == tomap({ ApiName = "t1-approval", Stage = "v1" })
    error_message = "The 5XX alarm must watch the approval API's stage."
  }

  assert {
    condition     = [for s in aws_sns_topic_subscription.alarm_emails : s.endpoint] == ["ops@example.com"]
    error_message = "Each alarm e-mail must be subscribed."
  }

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == null
    error_message = "Without a customer managed key the topic stays unencrypted: CloudWatch cannot use the AWS managed key."
  }

  assert {
    condition = toset([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.properties.title
      if w.x == 0
      ]) == toset([
      "Jobs by state: Lambda durable functions", "Rows processed and rejected: Lambda durable functions",
      "Approval latency (seconds): Lambda durable functions", "Intake: Lambda durable functions",
      "Orchestrator: Lambda durable functions", "Approval API", "Jobs by state (not ended)",
    ])
    error_message = "The durable column must hold the same widgets as the Step Functions one."
  }

  assert {
    condition = length([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w if w.x == 12
    ]) == 6
    error_message = "The Step Functions column must sit beside the durable one."
  }
}

run "one_pipeline_has_no_alarm_for_the_other" {
  command = apply

  variables {
    pipelines    = { sfn = { dlq_name = "t1-sfn-events-dlq", starter_function_name = "t1-sfn-starter", orchestrator = "arn:aws:states:eu-west-1:123456789012:stateMachine:t1-pipeline" } }
    alarm_emails = []
    kms_key_arn  = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = length([for k in keys(aws_cloudwatch_metric_alarm.this) : k if startswith(k, "durable")]) == 0
    error_message = "No durable alarm without a durable pipeline."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.alarm_emails) == 0
    error_message = "No subscription without e-mails."
  }

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    error_message = "A customer managed key encrypts the topic."
  }

  assert {
    condition     = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.x == 0 if w.y < 36])
    error_message = "One pipeline fills the first column."
  }
}

run "an_unknown_pipeline_is_refused" {
  command = plan

  variables {
    pipelines = { batch = { dlq_name = "q", starter_function_name = "f", orchestrator = "o" } }
  }

  expect_failures = [var.pipelines]
}
