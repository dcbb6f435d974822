# Terraform CLI configuration for machines that cannot reach the Terraform registry: hashicorp
# providers are installed from a local filesystem mirror in the unpacked layout
#   <mirror>/registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/terraform-provider-aws_*
# scripts/terraform_env.py finds the mirror, writes this file with @MIRROR@ filled in and points
# TF_CLI_CONFIG_FILE at the copy.
provider_installation {
  filesystem_mirror {
    path    = "@MIRROR@"
    include = ["registry.terraform.io/hashicorp/*"]
  }

  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
