module restomarket.invalid/infrastructure/terraform/provider

go 1.24
