const app = document.querySelector("#app");
fetch("/api/documents")
  .then((response) => response.json())
  .then((body) => {
    app.textContent = body.documents.map((d) => d.title).join(", ");
  });
