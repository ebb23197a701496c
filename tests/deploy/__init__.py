"""Deployment files (Dockerfile, compose, k8s/, monitoring/) proven by offline tools."""
