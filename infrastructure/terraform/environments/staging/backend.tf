# Remote state in a DigitalOcean Spaces bucket through Terraform's S3 backend.
# Credentials come only from the environment: AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY hold a Spaces access key (see ../../README.md).
# The bucket is created, with versioning, by scripts/init-backend.sh.
terraform {
  backend "s3" {
    bucket = "restomarket-terraform-state"
    key    = "staging/terraform.tfstate"

    # Spaces ignores the AWS region, but the backend insists on a valid name.
    region = "us-east-1"
    endpoints = {
      s3 = "https://fra1.digitaloceanspaces.com"
    }

    # Spaces is not AWS: there is no STS, IAM, account ID or instance metadata.
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
    skip_s3_checksum            = true

    # Lock with a .tflock object next to the state instead of DynamoDB.
    use_lockfile = true
  }
}
