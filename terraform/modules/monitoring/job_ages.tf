# A job that stops moving emits nothing, so its age is read from the jobs table on a schedule: every
# job_ages_schedule_minutes EventBridge invokes the approval API's function (it already reads the table
# through the status index), which publishes OldestJobAge, JobsInState and ApprovalTimeLeft
# (etl_aws.job_ages) for the alarms in alarms.tf and the dashboard.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html

resource "aws_cloudwatch_event_rule" "job_ages" {
  name                = "${var.name}-job-ages"
  description         = "Publish the ages of the jobs that have not ended (etl_aws.job_ages)."
  schedule_expression = var.job_ages_schedule_minutes == 1 ? "rate(1 minute)" : "rate(${var.job_ages_schedule_minutes} minutes)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "job_ages" {
  rule      = aws_cloudwatch_event_rule.job_ages.name
  target_id = "job-ages"
  arn       = var.jobs_function_alias_arn
}

# Only this rule may invoke the alias.
resource "aws_lambda_permission" "job_ages" {
  statement_id  = "AllowJobAgesSchedule"
  action        = "lambda:InvokeFunction"
  function_name = var.jobs_function_name
  qualifier     = split(":", var.jobs_function_alias_arn)[7]
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.job_ages.arn
}
