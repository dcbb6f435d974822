resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs; a customer key needs a key policy for the logs service.
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_days); a year of access logs is not a default worth paying for.
  name              = "/aws/apigateway/${var.name}-approval/access"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# API Gateway writes execution logs to this fixed name and would create it without a retention.
resource "aws_cloudwatch_log_group" "execution" {
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs; a customer key needs a key policy for the logs service.
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_days); a year of execution logs is not a default worth paying for.
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}
