"""Tests that prove the deployment files (Dockerfile, compose, k8s/, monitoring/) with offline tools."""
