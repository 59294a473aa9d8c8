import { ProductDetail } from "@/components/ProductDetail";
import { faults } from "@/lib/server";

export const metadata = { title: "Product · Demo shop" };

export default async function ProductPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <ProductDetail id={id} broken={faults().render_error} />;
}
