terraform {
  # 1.9 for validations that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The floor every module of this repository shares (lambda_function needs 6.25 for `durable_config`).
      version = ">= 6.25"
    }
  }
}
