terraform {
  # 1.9 for validations that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The same floor as lambda_function, which needs 6.25 for `durable_config`.
      version = ">= 6.25"
    }
  }
}
