"""Itemsense AWS infrastructure (Pulumi): VPC, EKS, ECR, GitHub OIDC access, optional RDS."""
