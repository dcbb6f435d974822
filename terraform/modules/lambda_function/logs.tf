resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs unless log_kms_key_arn is set; a customer key needs a key policy for the logs service.
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_days); a year of debug logs is not a default worth paying for.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}
