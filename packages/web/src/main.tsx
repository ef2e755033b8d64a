import "@itwin/itwinui-react/styles.css";
import "./app.css";
import { ThemeProvider } from "@itwin/itwinui-react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.js";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ThemeProvider theme="os" style={{ minHeight: "100vh" }}>
      <App />
    </ThemeProvider>
  </StrictMode>,
);
