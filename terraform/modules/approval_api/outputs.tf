output "invoke_url" {
  description = "Base URL of the API stage (https://<id>.execute-api.<region>.<dns suffix>/<stage>): ETL_API_URL."
  value       = local.invoke_url
}

output "rest_api_id" {
  description = "REST API id."
  value       = aws_api_gateway_rest_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the API; IAM policies for operators grant execute-api:Invoke under it."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_name" {
  description = "Stage name."
  value       = aws_api_gateway_stage.this.stage_name
}

output "stage_invoke_url" {
  description = "The stage's invoke URL as API Gateway reports it (equals invoke_url once deployed)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "function_name" {
  description = "Approval function name."
  value       = module.function.function_name
}

output "function_alias_arn" {
  description = "Approval function alias ARN."
  value       = module.function.alias_arn
}

output "access_log_group_name" {
  description = "Log group of the stage's JSON access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "rest_api_name" {
  description = "The REST API's name (the ApiName dimension of its AWS/ApiGateway metrics)."
  value       = aws_api_gateway_rest_api.this.name
}
