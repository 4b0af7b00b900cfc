// Starts Swagger UI on the /docs page. A file of its own, not an inline script, so that the
// page's Content-Security-Policy can forbid inline scripts.

// Swagger UI's request body editor is a textarea with no label (WCAG 1.3.1, 4.1.2): name it.
const LabelledBody = () => ({
  wrapComponents: {
    TextArea: (Original, system) => (props) => {
      const named = props["aria-label"] || !String(props.className || "").includes("body-param");
      return system.React.createElement(
        Original,
        named ? props : { ...props, "aria-label": "Request body" },
      );
    },
  },
});

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    // Deep links put a link inside each operation's toggle button (nested controls, which
    // screen readers cannot reach): accessibility first.
    deepLinking: false,
    showExtensions: true,
    showCommonExtensions: true,
    // Swagger UI would otherwise ask a public validator about the spec: no third-party request.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    plugins: [LabelledBody],
  });
});
