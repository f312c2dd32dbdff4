/** Spring Boot integration for laminar-storage: auto-configuration, metrics, actuator endpoint and health. */
package io.laminar.storage.spring;
